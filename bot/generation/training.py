"""LoRA fine-tuning of the reply model, and the corpus adapter trained once and cached.

The loss covers the reply tokens only (the prompt is context, not a target), so
the adapter learns how Kai answers, not how users talk.
"""
from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from peft import PeftModel
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from bot.assets import cache_dir, resolve_model_path
from bot.generation.config import GeneratorConfig
from bot.generation.corpus import Example, chitchat_examples
from bot.generation.model import load_adapter, load_tokenizer, new_adapter
from bot.generation.prompt import build_messages
from bot.generation.skills import SKILLS_FILE, skill_examples

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
# Bump when the training code changes what a cached corpus adapter contains.
CORPUS_ADAPTER_VERSION = 3
COMPLETE_MARKER = ".complete"
FINGERPRINT_FILE = "fingerprint.json"


def encode_example(
    tokenizer: PreTrainedTokenizerBase, example: Example, config: GeneratorConfig
) -> Tuple[List[int], List[int]]:
    """Token ids of prompt + reply + end-of-turn, and labels that mask the prompt."""
    messages = build_messages(example.context, config.persona, config.max_history_turns)
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(prompt, dict) or hasattr(prompt, "input_ids"):
        prompt = prompt["input_ids"]
    reply = tokenizer(example.reply.strip(), add_special_tokens=False)["input_ids"]
    reply = reply[: config.max_train_tokens // 2] + [tokenizer.eos_token_id]
    # Keep the end of the prompt: the latest turns matter most.
    prompt = prompt[-(config.max_train_tokens - len(reply)) :]
    return prompt + reply, [IGNORE_INDEX] * len(prompt) + reply


def collate(encoded: Sequence[Tuple[List[int], List[int]]], pad_id: int) -> Dict[str, torch.Tensor]:
    """Right-padded batch tensors."""
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (tokens, targets) in enumerate(encoded):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        labels[row, : len(targets)] = torch.tensor(targets)
        mask[row, : len(tokens)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def device() -> torch.device:
    """CUDA where present (fine-tuning experiments), else the CPU everything ships on."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_lora(
    model: PeftModel,
    examples: Sequence[Example],
    config: GeneratorConfig,
    steps: int,
    description: str,
) -> PeftModel:
    """``steps`` AdamW steps over shuffled ``examples`` (cycling if needed), with a progress bar."""
    if not examples or steps <= 0:
        return model
    tokenizer = load_tokenizer(config.base_model)
    encoded = [encode_example(tokenizer, e, config) for e in examples]
    rng = random.Random(config.seed)
    target = device()
    model.to(target).train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    warmup = max(1, steps // 10)
    # Linear warm-up then linear decay: stable with few steps and a high LoRA rate.
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    order: List[int] = []
    with tqdm(total=steps, desc=description, unit="step") as bar:
        for _ in range(steps):
            if len(order) < config.batch_size:
                fresh = list(range(len(encoded)))
                rng.shuffle(fresh)
                order += fresh
            batch = [encoded[i] for i in order[: config.batch_size]]
            del order[: config.batch_size]
            inputs = {k: v.to(target) for k, v in collate(batch, tokenizer.pad_token_id).items()}
            loss = model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update()
    return model.to("cpu").eval()


def corpus_fingerprint(config: GeneratorConfig) -> str:
    """Changes whenever anything the corpus adapter depends on changes."""
    weights = sorted(resolve_model_path(config.base_model).glob("*.safetensors"))
    facts = {
        "settings": config.corpus_fingerprint_fields(),
        "weights": [(w.name, w.stat().st_size) for w in weights],
        # Editing the skill material must retrain the adapter, like changing a setting.
        "skills": hashlib.sha256(SKILLS_FILE.read_bytes()).hexdigest() if config.skill_examples else None,
        "version": CORPUS_ADAPTER_VERSION,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def corpus_adapter_dir(config: GeneratorConfig) -> Path:
    return cache_dir() / "generation" / f"corpus-{corpus_fingerprint(config)}"


def corpus_adapter(config: GeneratorConfig) -> Optional[Path]:
    """The adapter fine-tuned on the open-domain corpus: trained on first use, then reused.

    Returns ``None`` when no corpus is configured (adaptation then starts from fresh adapters).
    """
    if not config.corpus or not config.corpus_steps:
        return None
    target = corpus_adapter_dir(config)
    if (target / COMPLETE_MARKER).exists():
        logger.info(f"Reusing the cached corpus adapter {target}.")
        return target
    examples = corpus_training_examples(config)
    model = train_lora(
        new_adapter(config), examples, config, config.corpus_steps,
        f"LoRA on {config.corpus} (once, cached)",
    )
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(str(partial))
    (partial / FINGERPRINT_FILE).write_text(json.dumps(config.corpus_fingerprint_fields(), indent=2))
    (partial / COMPLETE_MARKER).touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # atomic: a crash never leaves a half-written cache behind
    return target


def corpus_training_examples(config: GeneratorConfig) -> List[Example]:
    """Corpus replies plus the synthetic skill examples, in a seeded order."""
    examples = chitchat_examples(
        held_out=False, limit=config.corpus_examples, max_history=config.max_history_turns, seed=config.seed
    ) + skill_examples(config.skill_examples, config.seed)
    random.Random(config.seed).shuffle(examples)
    return examples


def adapt(
    start: Optional[Path], examples: Sequence[Example], config: GeneratorConfig, replay: Sequence[Example] = ()
) -> PeftModel:
    """Continue training the adapter in ``start`` (or fresh adapters) on ``examples``.

    ``replay`` corpus examples are mixed in so the open-domain skill is not forgotten.
    """
    model = load_adapter(start, config.base_model, trainable=True) if start else new_adapter(config)
    mixed = list(examples) + list(replay)
    steps = -(-len(mixed) * config.adaptation_epochs // config.batch_size)  # ceil
    return train_lora(model, mixed, config, steps, "LoRA on the assistant's dialogues")
