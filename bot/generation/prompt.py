"""Turn a conversation, the user's emotion and *their own* profile into chat messages.

The prompt is the only way user data reaches the language model, so this is
where the privacy rule lives: a :class:`DialogueContext` carries the sender it
belongs to, and profile facts owned by anyone else are refused loudly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

USER = "user"
ASSISTANT = "assistant"
SYSTEM = "system"
NEUTRAL = "neutral"

# How the system prompt phrases each emotion: a plain sentence the small model
# can act on, not a label it has never seen.
EMOTION_HINTS: Dict[str, str] = {
    "sadness": "The user feels sad: be gentle, acknowledge the feeling and offer support.",
    "anger": "The user feels angry: stay calm, acknowledge the frustration and offer support.",
    "fear": "The user feels afraid: be reassuring, acknowledge the worry and offer support.",
    "disgust": "The user feels disgusted: acknowledge it kindly.",
    "joy": "The user feels happy: share their joy.",
    "surprise": "The user is surprised: respond with curiosity.",
}


class ProfileLeakError(ValueError):
    """Profile facts of one user were about to reach another user's prompt."""


@dataclass(frozen=True)
class Turn:
    """One utterance: ``role`` is ``user`` or ``assistant``."""

    role: str
    text: str


@dataclass(frozen=True)
class ProfileFacts:
    """What the assistant knows about one user; ``owner`` is their sender id."""

    owner: str
    name: Optional[str] = None
    preferences: Dict[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.name and not self.preferences

    def values(self) -> List[str]:
        """Every personal string, for the output check against other users' data."""
        return [v for v in [self.name, *self.preferences.values()] if v]


@dataclass(frozen=True)
class DialogueContext:
    """Everything a reply is conditioned on, for one sender."""

    sender_id: str
    turns: Sequence[Turn]
    emotion: Optional[str] = None
    profile: Optional[ProfileFacts] = None

    def __post_init__(self) -> None:
        if self.profile is not None and self.profile.owner != self.sender_id:
            raise ProfileLeakError(
                f"Profile of '{self.profile.owner}' cannot condition a reply to '{self.sender_id}'."
            )


def system_prompt(persona: str, emotion: Optional[str], profile: Optional[ProfileFacts]) -> str:
    """Persona, then what Kai knows about this user, then how they feel."""
    lines = [persona]
    if profile is not None and profile.name:
        lines.append(f"The user's name is {profile.name}.")
    if profile is not None and profile.preferences:
        liked = "; ".join(f"{category}: {value}" for category, value in sorted(profile.preferences.items()))
        lines.append(f"The user likes ({liked}). Use this when you recommend something.")
    hint = EMOTION_HINTS.get(emotion or NEUTRAL)
    if hint:
        lines.append(hint)
    return " ".join(lines)


def build_messages(context: DialogueContext, persona: str, max_turns: int) -> List[Dict[str, str]]:
    """Chat-template messages: the system prompt and the last ``max_turns`` turns.

    The conversation must end with a user turn: that is the message to answer.
    """
    turns = [t for t in context.turns if t.text and t.text.strip()][-max_turns:] if max_turns else []
    if not turns or turns[-1].role != USER:
        raise ValueError("A prompt needs the conversation to end with a user turn.")
    messages = [{"role": SYSTEM, "content": system_prompt(persona, context.emotion, context.profile)}]
    messages += [{"role": t.role, "content": t.text.strip()} for t in turns]
    return messages
