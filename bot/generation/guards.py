"""Quality checks a generated reply must pass before a user sees it.

Each check returns the reason it failed, or ``None``; :func:`first_failure`
runs them in order. A failed reply is replaced by the fallback response.
:func:`complete_sentences` trims a reply that the time budget cut short.
"""
from __future__ import annotations

import re
from typing import Iterable, List, Optional, Sequence

from bot.generation.prompt import ASSISTANT, USER, DialogueContext

EMPTY = "empty"
REPEATED = "repeated"
TOO_LONG = "too_long"
ECHO = "echoes_prompt"
MARKUP = "markup"
FOREIGN_DATA = "other_users_data"
LOOPING = "looping"
TIMEOUT = "time_budget"

# Tags, template placeholders, code fences, links, chat-template tokens and the
# markers of the prompt's user-data block (a reply quoting them recites the prompt).
_MARKUP = re.compile(
    r"<[^>]{0,40}>|\{[^}]{0,40}\}|```|https?://|www\.|\[[^\]]{0,40}\]\(|<\||\[(?:end of )?user data\]", re.IGNORECASE
)
_WORD = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"')]*(?=\s|$)")


def _normalised(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def complete_sentences(text: str) -> str:
    """``text`` up to the end of its last finished sentence, or ``""`` if none is finished.

    What a reply cut short by the time budget may keep: "Sure. I was about to" → "Sure."
    """
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].strip() if ends else ""


def check_empty(reply: str) -> Optional[str]:
    return EMPTY if len(_normalised(reply)) < 2 else None


def check_length(reply: str, max_chars: int) -> Optional[str]:
    return TOO_LONG if len(reply) > max_chars else None


def check_markup(reply: str) -> Optional[str]:
    return MARKUP if _MARKUP.search(reply) else None


def check_repeated(reply: str, context: DialogueContext) -> Optional[str]:
    """The same words as one of the assistant's earlier replies in this conversation."""
    earlier = {_normalised(t.text) for t in context.turns if t.role == ASSISTANT}
    return REPEATED if _normalised(reply) in earlier else None


def check_echo(reply: str, context: DialogueContext, system_prompt: str) -> Optional[str]:
    """Parroting the user's last message or reciting the system prompt."""
    said = _normalised(reply)
    last_user = next((_normalised(t.text) for t in reversed(context.turns) if t.role == USER), "")
    if said and (said == last_user or (len(said) > 20 and said in _normalised(system_prompt))):
        return ECHO
    return None


def check_looping(reply: str, ngram: int = 4, max_share: float = 0.5) -> Optional[str]:
    """Degenerate text that repeats one phrase (a classic small-LM failure)."""
    words = _normalised(reply).split()
    grams = [tuple(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]
    if len(grams) >= 4 and len(set(grams)) / len(grams) < max_share:
        return LOOPING
    return None


def check_foreign_data(reply: str, context: DialogueContext, known_personal: Iterable[str]) -> Optional[str]:
    """A personal value the assistant knows of, but which is not this user's own."""
    own = {v.lower() for v in (context.profile.values() if context.profile else [])}
    said = f" {_normalised(reply)} "
    for value in known_personal:
        value_norm = _normalised(value)
        if value_norm and value.lower() not in own and f" {value_norm} " in said:
            return FOREIGN_DATA
    return None


def first_failure(
    reply: str,
    context: DialogueContext,
    system_prompt: str,
    max_chars: int,
    known_personal: Sequence[str] = (),
) -> Optional[str]:
    """The first guard the reply fails, or ``None`` if it may be sent."""
    checks: List[Optional[str]] = [
        check_empty(reply),
        check_length(reply, max_chars),
        check_markup(reply),
        check_looping(reply),
        check_echo(reply, context, system_prompt),
        check_repeated(reply, context),
        check_foreign_data(reply, context, known_personal),
    ]
    return next((reason for reason in checks if reason), None)
