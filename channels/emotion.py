"""The emotion the NLU read in a user's latest message, as the web page shows it.

The NLU component adds an entity ``emotion`` spanning the whole message (value one of
neutral, joy, sadness, anger, fear, surprise, disgust, with ``confidence_entity``).
Reading the entity, not the ``emotion`` slot, shows what was read in *this* message:
the slot carries over from earlier turns.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.shared.core.trackers import DialogueStateTracker

EMOTION = "emotion"


def latest_emotion(
    tracker: Optional[DialogueStateTracker], message_id: Optional[str] = None
) -> Optional[Dict[str, Any]]:
    """``{"emotion": name, "confidence": float or None}`` read in the latest user message.

    None when no emotion was read, or when the latest message is not ``message_id``
    (a message the channel answered without the NLU, such as an empty one).
    """
    message = tracker.latest_message if tracker else None
    if message is None or (message_id is not None and message.message_id != message_id):
        return None
    for entity in message.entities or []:
        if entity.get("entity") == EMOTION and entity.get("value"):
            return {"emotion": entity["value"], "confidence": entity.get("confidence_entity")}
    return None
