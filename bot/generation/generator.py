"""Generate one reply under a time budget, with the guard rails applied.

``ReplyGenerator.reply`` never raises on bad model output and never takes much
longer than its budget: a reply cut short by the budget keeps its finished
sentences, and whatever else goes wrong, the caller gets the fallback text and
the reason, so the conversation always goes on.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from bot.generation import guards
from bot.generation.config import GeneratorConfig
from bot.generation.prompt import DialogueContext, build_messages, system_prompt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """What was sent and why: ``fallback_reason`` is ``None`` for a generated reply."""

    text: str
    fallback_reason: Optional[str]
    seconds: float
    new_tokens: int

    @property
    def generated(self) -> bool:
        return self.fallback_reason is None


class ReplyGenerator:
    """A warm model, its tokenizer and the decoding settings, ready to answer."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: GeneratorConfig,
        fallback_text: str,
        known_personal: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.fallback_text = fallback_text
        # Names and preferences seen in training data: a reply may only contain
        # those that belong to the user it answers (see guards.check_foreign_data).
        self.known_personal = list(known_personal)

    def reply(self, context: DialogueContext) -> Reply:
        """Answer the last user turn of ``context``, or fall back and say why."""
        start = time.perf_counter()
        messages = build_messages(context, self.config.persona, self.config.max_history_turns)
        try:
            text, new_tokens, timed_out = self._generate(messages)
        except Exception as error:  # a broken model must not break the conversation
            logger.exception("Reply generation failed")
            return self._fallback(f"error: {type(error).__name__}", start, 0)
        if timed_out:
            # Decoding stopped at the budget: the sentences already finished are still a
            # reply (on a slow machine, most long replies end this way); half of one is not.
            text = guards.complete_sentences(text)
            if not text:
                return self._fallback(guards.TIMEOUT, start, new_tokens)
            logger.info("Reply cut at the time budget; sending its finished sentences.")
        prompt = system_prompt(self.config.persona, context.emotion, context.profile)
        reason = guards.first_failure(
            text, context, prompt, self.config.max_reply_chars, self.known_personal
        )
        if reason:
            return self._fallback(reason, start, new_tokens)
        return Reply(text, None, time.perf_counter() - start, new_tokens)

    def _fallback(self, reason: str, start: float, new_tokens: int) -> Reply:
        logger.info(f"Generated reply rejected ({reason}); sending the fallback response.")
        return Reply(self.fallback_text, reason, time.perf_counter() - start, new_tokens)

    def _generate(self, messages) -> tuple:
        inputs = encode_prompt(self.tokenizer, messages, self.config.max_prompt_tokens)
        settings = dict(
            max_new_tokens=self.config.max_new_tokens,
            repetition_penalty=self.config.repetition_penalty,
            do_sample=self.config.do_sample,
            use_cache=True,
            # Stops decoding once the budget is spent; the check below then falls back.
            max_time=self.config.time_budget_s,
        )
        if self.config.do_sample:
            torch.manual_seed(self.config.seed)  # reproducible for a given prompt
            settings.update(temperature=self.config.temperature, top_p=self.config.top_p)
        else:
            settings.update(temperature=None, top_p=None, top_k=None)
        start = time.perf_counter()
        with torch.inference_mode():
            output = self.model.generate(**inputs, **settings)
        elapsed = time.perf_counter() - start
        new = output[0, inputs["input_ids"].shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        return text, int(new.shape[0]), elapsed >= self.config.time_budget_s


def encode_prompt(tokenizer: PreTrainedTokenizerBase, messages: List[Dict[str, str]], max_tokens: int):
    """The chat-template encoding of ``messages``, cut to ``max_tokens`` where it can be.

    The oldest turns go first (never the system prompt), then the end of the last user
    message: the time budget cannot interrupt the prompt's forward pass, so a message
    of 3,000 emoji would otherwise cost a minute before the first token.
    """
    while True:
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        excess = inputs["input_ids"].shape[1] - max_tokens
        if excess <= 0:
            return inputs
        if len(messages) > 2:
            messages = [messages[0], *messages[2:]]
        elif messages[-1]["content"]:
            messages = [messages[0], {**messages[-1], "content": _drop_last_tokens(tokenizer, messages[-1]["content"], excess)}]
        else:
            return inputs  # the system prompt alone is over the cap


def _drop_last_tokens(tokenizer: PreTrainedTokenizerBase, text: str, count: int) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids[: max(len(ids) - count, 0)])
