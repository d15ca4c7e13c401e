"""Recommend something from the small catalogue in ``bot/catalogue.yml``.

Matching is deliberately simple and explainable: an item matches a stored
preference when the preference names one of its tags (or a word of its title).
The catalogue lives in ``bot/`` because Rasa reads every YAML file under ``data/``
as training data.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

CATALOGUE_PATH = Path(__file__).resolve().parent / "catalogue.yml"


@dataclass(frozen=True)
class Item:
    category: str
    title: str
    tags: Tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    item: Item
    # The stored preference that led to this item, or None for a default pick.
    because: Optional[str]


def _words(text: str) -> set:
    return set(re.findall(r"[\w-]+", text.lower()))


@lru_cache(maxsize=4)
def load_catalogue(path: Path = CATALOGUE_PATH) -> Dict[str, List[Item]]:
    """Items by category; raises ValueError naming the file if it is malformed."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of category -> list of items")
    return {
        category: [Item(category, entry["title"], tuple(t.lower() for t in entry["tags"])) for entry in items]
        for category, items in raw.items()
    }


_STOPWORDS = {"the", "a", "an", "of", "by", "and", "for", "with"}


def matches(item: Item, preference: str) -> bool:
    """True when the preference names a tag of the item or shares a word with it."""
    wanted = preference.lower().strip()
    vocabulary = set(item.tags) | _words(" ".join(item.tags)) | _words(item.title)
    return wanted in item.tags or bool((_words(wanted) - _STOPWORDS) & vocabulary)


def guess_category(preference: str, catalogue: Optional[Dict[str, List[Item]]] = None) -> Optional[str]:
    """The only category with an item matching ``preference`` ("jazz" -> music), else None."""
    catalogue = catalogue or load_catalogue()
    found = {c for c, items in catalogue.items() if any(matches(item, preference) for item in items)}
    return found.pop() if len(found) == 1 else None


def recommend(
    preferences: Mapping[str, str],
    category: Optional[str] = None,
    catalogue: Optional[Dict[str, List[Item]]] = None,
    rng: Optional[random.Random] = None,
) -> Optional[Recommendation]:
    """An item for ``category`` (or any category with a stored preference).

    Returns None when nothing is known to recommend from: no category asked for
    and no stored preferences.
    """
    catalogue = catalogue or load_catalogue()
    rng = rng or random.Random()
    categories: Sequence[str] = [category] if category else [c for c in preferences if c in catalogue]
    if not categories:
        return None
    chosen = rng.choice(list(categories))
    preference = preferences.get(chosen)
    if preference:
        hits = [item for item in catalogue[chosen] if matches(item, preference)]
        # Don't recommend back exactly what the user said they like.
        hits = [item for item in hits if item.title.lower() != preference.lower()] or hits
        if hits:
            return Recommendation(rng.choice(hits), because=preference)
    return Recommendation(catalogue[chosen][0], because=None)
