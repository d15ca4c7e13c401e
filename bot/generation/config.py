"""Settings of the generative reply model, validated in one place.

One flat dataclass so the Rasa policy's ``config.yml`` keys, the benchmark's
options and the tests all speak the same names.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional

from bot.generation.precision import PRECISIONS


@dataclass
class GeneratorConfig:
    """Prompting, decoding, guard-rail and LoRA training settings; defaults suit a 2-core CPU."""

    # --- model and prompt ---
    base_model: str = field(
        default="SmolLM2-135M-Instruct",
        metadata={"help": "Causal LM: a bundled name, a Hugging Face cache name or a local directory."},
    )
    persona: str = field(
        default="You are Kai, a warm and caring AI companion. Reply in one or two short, friendly sentences.",
        metadata={"help": "First line of the system prompt."},
    )
    max_history_turns: int = field(
        default=6, metadata={"help": "Last user/bot turns of the conversation put in the prompt."}
    )
    max_prompt_tokens: int = field(
        default=256,
        metadata={"help": "Prompt length cap; the oldest turns are dropped first (256 keeps 94.5% of "
                          "held-out chit-chat prompts whole; docs/generation-under-load.md)."},
    )
    # --- decoding ---
    max_new_tokens: int = field(default=40, metadata={"help": "Longest reply in tokens."})
    do_sample: bool = field(default=False, metadata={"help": "Sample (true) or greedy decoding (false)."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (sampling only)."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling mass (sampling only)."})
    repetition_penalty: float = field(default=1.15, metadata={"help": "Penalty on repeated tokens (1 = none)."})
    seed: int = field(default=42, metadata={"help": "Seed for sampling, LoRA initialisation and shuffling."})
    num_threads: int = field(
        default=2,
        metadata={"help": "Most CPU threads for reading the prompt (0: every usable core); fewer while "
                          "other processes keep cores busy (bot/generation/threads.py)."},
    )
    decode_threads: int = field(
        default=1,
        metadata={"help": "Most CPU threads while decoding (0: as many as the prompt got). One token reads "
                          "every weight once, so decoding is bound by memory bandwidth: on the 2-core "
                          "target one thread decodes as fast as two, with no barrier to stall at when "
                          "another process takes a core (docs/generation-under-load.md)."},
    )
    inference_precision: str = field(
        default="auto",
        metadata={"help": "Weights when serving: 'float32', 'bfloat16-int8' (int8 decoder weights, "
                          "bfloat16 activations; about 2.5x faster where the CPU has native bfloat16) "
                          "or 'auto' (bfloat16-int8 on such CPUs, float32 elsewhere). Training is float32."},
    )
    # --- guard rails ---
    time_budget_s: float = field(
        default=2.0,
        metadata={"help": "Wall-clock budget per reply, queue wait and prompt included; over it the "
                          "fallback response is sent."},
    )
    reply_target_s: float = field(
        default=1.2,
        metadata={"help": "Soft target: past it, decoding stops as soon as a sentence is finished (the "
                          "reply keeps its finished sentences; 0: no target). Replies get shorter on a "
                          "slow CPU instead of running into time_budget_s."},
    )
    max_waiting_replies: int = field(
        default=2,
        metadata={"help": "Replies that may wait for the generation worker behind the one it is writing; "
                          "one more is answered at once with busy_text."},
    )
    busy_text: str = field(
        default="I'm talking with a lot of people at once right now. Could you say that again in a moment?",
        metadata={"help": "Sent when the generation queue is full (fallback reason 'busy')."},
    )
    max_reply_chars: int = field(default=300, metadata={"help": "Longer replies fail the quality check."})
    fallback_response: str = field(
        default="utter_default", metadata={"help": "Domain response sent when generation fails a guard."}
    )
    # --- LoRA ---
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank r."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout inside LoRA layers."})
    lora_targets: List[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "Names of the decoder's linear layers that get adapters."},
    )
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate."})
    batch_size: int = field(default=8, metadata={"help": "Examples per optimisation step."})
    max_train_tokens: int = field(default=128, metadata={"help": "Tokens kept per training example."})
    # --- the corpus adapter, trained once and cached ---
    corpus: Optional[str] = field(
        default="chitchat-dataset",
        metadata={"help": "Open-domain corpus for the cached adapter ('chitchat-dataset' or null for none)."},
    )
    corpus_examples: int = field(
        default=320, metadata={"help": "Corpus replies sampled from the training split."}
    )
    corpus_steps: int = field(
        default=115, metadata={"help": "Optimisation steps on the corpus (a few seconds each on 2 cores)."}
    )
    skill_examples: int = field(
        default=600,
        metadata={"help": "Synthetic grounding and empathy examples (bot/generation/skills.yml) trained "
                          "with the corpus: they teach the adapter to use the profile and the emotion."},
    )
    # --- light adaptation on the assistant's own stories, run by `rasa train` ---
    adaptation_epochs: int = field(
        default=1, metadata={"help": "Passes over the dialogues implied by stories and responses."}
    )
    corpus_replay: float = field(
        default=1.0,
        metadata={"help": "Corpus examples mixed into adaptation, per story example, against forgetting."},
    )

    def __post_init__(self) -> None:
        _require(lambda: bool(str(self.base_model).strip()), "base_model", "a model name or directory")
        _require(lambda: 1 <= self.max_history_turns <= 50, "max_history_turns", "an integer in [1, 50]")
        _require(lambda: 32 <= self.max_prompt_tokens <= 4096, "max_prompt_tokens", "an integer in [32, 4096]")
        _require(lambda: 1 <= self.max_new_tokens <= 512, "max_new_tokens", "an integer in [1, 512]")
        _require(lambda: self.temperature > 0, "temperature", "a float > 0")
        _require(lambda: 0 < self.top_p <= 1, "top_p", "a float in (0, 1]")
        _require(lambda: self.repetition_penalty >= 1, "repetition_penalty", "a float >= 1")
        _require(lambda: self.num_threads >= 0, "num_threads", "an integer >= 0")
        _require(lambda: self.decode_threads >= 0, "decode_threads", "an integer >= 0")
        _require(lambda: self.inference_precision in PRECISIONS, "inference_precision", " or ".join(PRECISIONS))
        _require(lambda: self.time_budget_s > 0, "time_budget_s", "a float > 0 (seconds)")
        _require(lambda: self.reply_target_s >= 0, "reply_target_s", "a float >= 0 (seconds; 0: none)")
        _require(lambda: self.max_waiting_replies >= 0, "max_waiting_replies", "an integer >= 0")
        _require(lambda: bool(str(self.busy_text).strip()), "busy_text", "a non-empty text")
        _require(lambda: self.max_reply_chars >= 10, "max_reply_chars", "an integer >= 10")
        _require(lambda: bool(self.fallback_response), "fallback_response", "a domain response name")
        _require(lambda: self.lora_rank >= 1, "lora_rank", "an integer >= 1")
        _require(lambda: self.lora_alpha >= 1, "lora_alpha", "an integer >= 1")
        _require(lambda: 0 <= self.lora_dropout < 1, "lora_dropout", "a float in [0, 1)")
        _require(lambda: bool(self.lora_targets), "lora_targets", "a non-empty list of layer names")
        _require(lambda: 0 < self.learning_rate < 1, "learning_rate", "a float in (0, 1)")
        _require(lambda: self.batch_size >= 1, "batch_size", "an integer >= 1")
        _require(lambda: 16 <= self.max_train_tokens <= 2048, "max_train_tokens", "an integer in [16, 2048]")
        _require(lambda: self.corpus in (None, "chitchat-dataset"), "corpus", "'chitchat-dataset' or null")
        _require(lambda: self.corpus_examples >= 0, "corpus_examples", "an integer >= 0")
        _require(lambda: self.corpus_steps >= 0, "corpus_steps", "an integer >= 0")
        _require(lambda: self.skill_examples >= 0, "skill_examples", "an integer >= 0")
        _require(lambda: self.adaptation_epochs >= 0, "adaptation_epochs", "an integer >= 0")
        _require(lambda: self.corpus_replay >= 0, "corpus_replay", "a float >= 0")

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "GeneratorConfig":
        """Build from a Rasa component config, ignoring Rasa's own keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def corpus_fingerprint_fields(self) -> Dict[str, Any]:
        """The settings the cached corpus adapter depends on (and nothing else)."""
        keys = [
            "base_model", "persona", "max_history_turns", "lora_rank", "lora_alpha", "lora_dropout",
            "lora_targets", "learning_rate", "batch_size", "max_train_tokens", "corpus",
            "corpus_examples", "corpus_steps", "skill_examples", "seed",
        ]
        return {key: getattr(self, key) for key in keys}


class ConfigError(ValueError):
    """An invalid setting; the message names the key and what is allowed."""


def _require(check: Callable[[], bool], key: str, allowed: str) -> None:
    try:
        ok = check()
    except TypeError:  # e.g. a string where a number belongs
        ok = False
    if not ok:
        raise ConfigError(f"Invalid value for '{key}': expected {allowed}.")
