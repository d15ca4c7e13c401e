"""Synthetic training examples for the two skills open-domain chit-chat never shows.

The chitchat corpus has no profile and no emotion in its prompts, so an adapter
trained on it alone learns to ignore both. These examples put them in the prompt
and answer with them:

* grounding: the user's preference is in the system prompt (and sometimes stated
  earlier in the conversation), the user asks for a recommendation, and the reply
  names the preference and a suggestion that fits it;
* empathy: a sad, angry or afraid message written by a real person (the GoEmotions
  training split, the same corpus the NLU's emotion head learns from), with that
  emotion in the prompt, answered by acknowledging the feeling.

The material lives in ``skills.yml``, disjoint from the evaluation's ``scenarios.yml``.
"""
from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml

from bot.generation.corpus import Example
from bot.generation.prompt import ASSISTANT, USER, DialogueContext, ProfileFacts, Turn

SKILLS_FILE = Path(__file__).with_name("skills.yml")
EMOTION_CORPUS = "goemotions-ekman"
SKILL_SENDER = "skills"
# Short, single-label, first-person messages read like something said to a companion.
MIN_CHARS, MAX_CHARS = 25, 160
FIRST_PERSON = re.compile(r"\b(I|I'm|I've|my|me)\b")


@lru_cache(maxsize=1)
def material() -> Dict[str, Any]:
    return yaml.safe_load(SKILLS_FILE.read_text(encoding="utf-8"))


def skill_examples(count: int, seed: int) -> List[Example]:
    """``count`` examples, half grounding and half empathy, in a seeded order."""
    rng = random.Random(seed)
    examples = grounding_examples(count // 2, rng) + empathy_examples(count - count // 2, rng)
    rng.shuffle(examples)
    return examples


def grounding_examples(count: int, rng: random.Random) -> List[Example]:
    """Recommendation requests answered with the preference the profile holds."""
    facts = material()
    pairs = [(category, pair) for category, pairs in facts["preferences"].items() for pair in pairs]
    examples = []
    for index in range(count):
        category, (value, suggestion) = pairs[index % len(pairs)]
        profile = ProfileFacts(SKILL_SENDER, name=rng.choice(facts["names"]), preferences={category: value})
        turns = [Turn(USER, rng.choice(facts["requests"][category]))]
        if rng.random() < 0.5:  # said earlier in this conversation, or known from an earlier one
            turns = [Turn(USER, rng.choice(facts["statements"]).format(value=value)),
                     Turn(ASSISTANT, rng.choice(facts["acknowledgements"]))] + turns
        reply = rng.choice(facts["grounded_replies"]).format(value=value, suggestion=suggestion)
        examples.append(Example(DialogueContext(SKILL_SENDER, turns, emotion="neutral", profile=profile), reply))
    return examples


def empathy_examples(count: int, rng: random.Random) -> List[Example]:
    """Real sad, angry and afraid messages answered by acknowledging the feeling."""
    replies: Dict[str, List[str]] = material()["empathetic_replies"]
    messages = _messages_by_emotion()
    emotions = sorted(replies)
    examples = []
    for index in range(count):
        emotion = emotions[index % len(emotions)]
        context = DialogueContext(SKILL_SENDER, [Turn(USER, rng.choice(messages[emotion]))], emotion=emotion)
        examples.append(Example(context, rng.choice(replies[emotion])))
    return examples


@lru_cache(maxsize=1)
def _messages_by_emotion() -> Dict[str, List[str]]:
    """Usable GoEmotions training messages per emotion that has empathetic replies.

    Cached: `rasa train` asks for the examples twice (corpus adapter, then replay).
    """
    from bot.nlu.emotion_corpus import load_emotion_corpus

    by_emotion: Dict[str, List[str]] = {emotion: [] for emotion in material()["empathetic_replies"]}
    for row in load_emotion_corpus(EMOTION_CORPUS, "train"):
        if len(row.emotions) == 1 and row.emotions[0] in by_emotion and _usable(row.text):
            by_emotion[row.emotions[0]].append(row.text)
    return by_emotion


def _usable(text: str) -> bool:
    # GoEmotions masks names and religions as "[NAME]"/"[RELIGION]": not how people write.
    return MIN_CHARS <= len(text) <= MAX_CHARS and "[" not in text and bool(FIRST_PERSON.search(text))
