"""The typo corrector before the noisy channel (bot/nlu/typos.py at ebd67aa), kept for check.py.

Typo correction for the text the classifier reads, towards the words it was trained on.

People type fast in chat ("wats my acount balnce"), and a misspelt word falls apart
into word pieces that share little with the right word's, which noise augmentation
in training only partly makes up for. So before classifying, each word that is
neither an English word nor a word of the training data is replaced by the nearest
training-data word within a small edit distance, if there is one (SymSpell, via
``symspellpy``). Only training-data words are targets, because those are the ones the
model has learnt from; English words are left alone so that correct text stays as it
is. The message itself is not changed: entities and the parse result keep what the
user typed.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections import Counter
from pathlib import Path
from typing import FrozenSet, Iterable, Mapping, Optional

from symspellpy import SymSpell, Verbosity

VOCABULARY_FILE = "typo_vocabulary.json"
WORD = re.compile(r"[A-Za-z']+")
# Short words have many neighbours one edit away: leave the shortest alone and allow
# one edit up to four letters, two beyond.
MIN_LENGTH = 3
SHORT_WORD = 4
MAX_EDIT_DISTANCE = 2


@functools.lru_cache(maxsize=1)
def english_words() -> FrozenSet[str]:
    """The 82,765 words of the English frequency list that ships with symspellpy."""
    listing = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    return frozenset(line.split(maxsplit=1)[0] for line in listing.read_text().splitlines() if line)


class TypoCorrector:
    """Replaces unknown words by the nearest word of the training data."""

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        self.vocabulary = dict(vocabulary)
        self._symspell = SymSpell(max_dictionary_edit_distance=MAX_EDIT_DISTANCE)
        for word, count in self.vocabulary.items():
            self._symspell.create_dictionary_entry(word, count)
        self._known = english_words() | self.vocabulary.keys()

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "TypoCorrector":
        """Learn the vocabulary (word counts, lower-cased) of the training texts."""
        return cls(Counter(word.lower() for text in texts for word in WORD.findall(text)))

    def correct(self, text: str) -> str:
        return WORD.sub(lambda match: self._correct_word(match.group(0)), text)

    def _correct_word(self, word: str) -> str:
        lower = word.lower()
        if len(lower) < MIN_LENGTH or lower in self._known:
            return word
        distance = 1 if len(lower) <= SHORT_WORD else MAX_EDIT_DISTANCE
        suggestions = self._symspell.lookup(lower, Verbosity.TOP, max_edit_distance=distance)
        return suggestions[0].term if suggestions else word

    def save(self, directory: Path) -> None:
        (Path(directory) / VOCABULARY_FILE).write_text(json.dumps(self.vocabulary, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> Optional["TypoCorrector"]:
        """The corrector saved in ``directory``, or None if the model was saved without one."""
        path = Path(directory) / VOCABULARY_FILE
        return cls(json.loads(path.read_text())) if path.exists() else None
