"""Training and held-out examples from the open-domain chitchat corpus.

``chitchat-dataset`` (MIT) holds 7,168 real, rated two-person conversations.
Each message run of one speaker is one turn; an example is "the last few turns,
then the next speaker's reply", with the replying speaker as the assistant.
Conversations are split by a hash of their id, so a conversation is either
trained on or held out, never both, whatever the sample size.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Iterator, List, Sequence

from bot.generation.prompt import ASSISTANT, USER, DialogueContext, Turn

CHITCHAT = "chitchat-dataset"
HELD_OUT_PERCENT = 10
CORPUS_SENDER = "corpus"
MIN_REPLY_CHARS = 2
MAX_REPLY_CHARS = 200


@dataclass(frozen=True)
class Example:
    """A context to answer and the reference reply."""

    context: DialogueContext
    reply: str


def is_held_out(conversation_id: str) -> bool:
    """Stable split: about ``HELD_OUT_PERCENT`` % of conversations are never trained on."""
    digest = hashlib.sha256(conversation_id.encode()).digest()
    return digest[0] * 100 // 256 < HELD_OUT_PERCENT


def _conversations() -> dict:
    try:
        import chitchat_dataset
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"The corpus '{CHITCHAT}' needs the package: `pip install --no-deps chitchat-dataset==0.9.0`."
        ) from None
    return chitchat_dataset.Dataset()


def _turns(conversation: dict) -> List[str]:
    """One string per speaker turn (the corpus groups a speaker's messages already)."""
    return [" ".join(m["text"].strip() for m in run if m.get("text")).strip() for run in conversation["messages"]]


def _examples_of(turns: Sequence[str], max_history: int) -> Iterator[Example]:
    for index in range(1, len(turns)):
        reply = turns[index]
        if not MIN_REPLY_CHARS <= len(reply) <= MAX_REPLY_CHARS:
            continue
        history = turns[max(0, index - max_history) : index]
        # Roles alternate backwards from the reply: the turn before it is the user's.
        roles = [USER if (len(history) - i) % 2 == 1 else ASSISTANT for i in range(len(history))]
        context = DialogueContext(CORPUS_SENDER, [Turn(r, t) for r, t in zip(roles, history) if t])
        if context.turns and context.turns[-1].role == USER:
            yield Example(context, reply)


def chitchat_examples(held_out: bool, limit: int, max_history: int, seed: int) -> List[Example]:
    """``limit`` examples from the training (or held-out) conversations, one per conversation first."""
    chosen = [c for cid, c in _conversations().items() if is_held_out(cid) == held_out]
    rng = random.Random(seed)
    rng.shuffle(chosen)
    per_conversation = [list(_examples_of(_turns(c), max_history)) for c in chosen]
    for candidates in per_conversation:
        rng.shuffle(candidates)
    examples: List[Example] = []
    # Round-robin over conversations so a small sample still covers many of them.
    for depth in range(max((len(p) for p in per_conversation), default=0)):
        for candidates in per_conversation:
            if len(examples) >= limit:
                return examples
            if depth < len(candidates):
                examples.append(candidates[depth])
    return examples
