"""Typo correction for the text the classifier reads, towards the words it was trained on.

People type fast in chat ("wats my acount balnce"), and a misspelt word falls apart
into word pieces that share little with the right word's, which noise augmentation
in training only partly makes up for. So before classifying, each word that is not
a known word (one of the training data's, or of the 20,000 commonest English words)
is replaced by its most probable intended word, if one is near enough. The choice is
a noisy channel, as in spelling correctors since Kernighan, Church and Gale (1990):

- candidates: training-data words within 1 edit (words up to four letters) or 2 edits
  (SymSpell, via ``symspellpy``), and English words within 1 edit of words of three
  letters or more (chat shorthand such as "ok" or "u" is not in the English list);
- how likely the typo is: an edit distance in which a slip to a neighbouring key, a
  dropped, doubled or swapped letter cost 1 and any other substitution 2 (people hit
  the key next to the right one, not one across the keyboard);
- how common the word is: mostly its share of the training data, a little of English;
- how well it fits between its neighbours: word bigrams of the training data, so that
  "what tihe is it" becomes "what time is it", not "what the is it".

The message itself is not changed: entities and the parse result keep what the user typed.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

from symspellpy import SymSpell, Verbosity

from bot.nlu.noise import KEYBOARD_NEIGHBOURS

VOCABULARY_FILE = "typo_vocabulary.json"
BIGRAMS_FILE = "typo_bigrams.json"
WORD = re.compile(r"[A-Za-z']+")
START, END = "<s>", "</s>"
# English words this common are taken as meant; rarer ones ("hae", "jus") are usually typos.
COMMON_ENGLISH = 20_000
# Words up to four letters have many neighbours: allow them one edit, longer words two.
SHORT_WORD = 4
MAX_EDIT_DISTANCE = 2
# Shorter words are only corrected towards training-data words.
MIN_ENGLISH_TYPED = 3
# Longer "words" are not misspellings (and would make the candidate search slow).
MAX_WORD_LENGTH = 24
# Scoring: each unit of typing cost weighs as much as a factor e^8 in word probability,
# so a likelier typo wins over a commoner word unless the context says otherwise.
TYPO_COST_WEIGHT = 8.0
TRAINING_SHARE = 0.9  # of the word prior; the rest is English frequency
BIGRAM_SMOOTHING = 0.1
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=1)
def english_counts() -> Dict[str, int]:
    """The 82,765 words of the English frequency list that ships with symspellpy, with counts."""
    listing = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    pairs = (line.split() for line in listing.read_text().splitlines() if line)
    return {word: int(count) for word, count in pairs}


@functools.lru_cache(maxsize=1)
def common_english_words() -> FrozenSet[str]:
    counts = english_counts()
    return frozenset(sorted(counts, key=counts.get, reverse=True)[:COMMON_ENGLISH])


def typing_cost(intended: str, typed: str) -> float:
    """Optimal-string-alignment distance with keyboard-aware substitutions: a neighbouring
    key, a dropped or extra letter and two swapped letters cost 1, another letter 2."""
    rows = [[float(j) for j in range(len(typed) + 1)]]
    for i, want in enumerate(intended, 1):
        row = [float(i)]
        for j, got in enumerate(typed, 1):
            substitution = 0 if want == got else 1 if got in KEYBOARD_NEIGHBOURS.get(want, ()) else 2
            best = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + substitution)
            if i > 1 and j > 1 and want == typed[j - 2] and intended[i - 2] == got:
                best = min(best, rows[-2][j - 2] + 1)
            row.append(best)
        rows.append(row)
    return rows[-1][-1]


def _edits1(word: str) -> set:
    """Every string one deletion, swap, substitution or insertion away (Norvig's spell corrector)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    substitutions = {a + c + b[1:] for a, b in splits if b for c in LETTERS}
    inserts = {a + c + b for a, b in splits for c in LETTERS}
    return deletes | swaps | substitutions | inserts


class TypoCorrector:
    """Replaces unknown words by their most probable intended word, in context."""

    def __init__(self, vocabulary: Mapping[str, int], bigrams: Optional[Mapping[str, int]] = None) -> None:
        self.vocabulary = dict(vocabulary)
        # "previous next" -> count; empty for models saved before context was used.
        self.bigrams = dict(bigrams or {})
        self._symspell = SymSpell(max_dictionary_edit_distance=MAX_EDIT_DISTANCE)
        for word, count in self.vocabulary.items():
            self._symspell.create_dictionary_entry(word, count)
        self._known = common_english_words() | self.vocabulary.keys()
        self._english = english_counts()
        self._training_total = max(sum(self.vocabulary.values()), 1)
        self._english_total = sum(self._english.values())
        # How often each word starts a bigram (sentence starts included), for P(next | word).
        self._followed = Counter()
        for pair, count in self.bigrams.items():
            self._followed[pair.split(" ", 1)[0]] += count
        self._candidates = functools.lru_cache(maxsize=8192)(self._scored_candidates)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "TypoCorrector":
        """Learn the word and word-bigram counts (lower-cased) of the training texts."""
        words, bigrams = Counter(), Counter()
        for text in texts:
            tokens = [word.lower() for word in WORD.findall(text)]
            words.update(tokens)
            padded = [START, *tokens, END]
            bigrams.update(f"{a} {b}" for a, b in zip(padded, padded[1:]))
        return cls(words, bigrams)

    def correct(self, text: str) -> str:
        matches = list(WORD.finditer(text))
        typed = [match.group(0).lower() for match in matches]
        pieces, start, previous = [], 0, START
        for i, match in enumerate(matches):
            following = typed[i + 1] if i + 1 < len(typed) else END
            word = self._correct_word(typed[i], previous, following)
            pieces += [text[start:match.start()], match.group(0) if word == typed[i] else word]
            start, previous = match.end(), word
        return "".join(pieces) + text[start:]

    def _correct_word(self, typed: str, previous: str, following: str) -> str:
        if typed in self._known or len(typed) > MAX_WORD_LENGTH:
            return typed
        candidates = self._candidates(typed)
        if not candidates:
            return typed
        return max(candidates, key=lambda c: c[1] + self._fit(previous, c[0], following))[0]

    def _scored_candidates(self, typed: str) -> Tuple[Tuple[str, float], ...]:
        """Candidate words with their context-free score: word prior minus weighted typing cost."""
        distance = 1 if len(typed) <= SHORT_WORD else MAX_EDIT_DISTANCE
        words = {s.term for s in self._symspell.lookup(typed, Verbosity.ALL, max_edit_distance=distance)}
        if len(typed) >= MIN_ENGLISH_TYPED:
            words |= {word for word in _edits1(typed) if word in self._english}
        # Sorted: a set's order changes with each process's string-hash salt, and ``max``
        # keeps the first of equally scored candidates, so the serving process must see the
        # order the training process saw.
        return tuple((w, self._log_prior(w) - TYPO_COST_WEIGHT * typing_cost(w, typed)) for w in sorted(words))

    def _log_prior(self, word: str) -> float:
        training = self.vocabulary.get(word, 0) / self._training_total
        english = self._english.get(word, 0) / self._english_total
        return math.log(TRAINING_SHARE * training + (1 - TRAINING_SHARE) * english + 1e-12)

    def _fit(self, previous: str, word: str, following: str) -> float:
        """log P(word | previous) + log P(following | word), from smoothed training bigrams."""
        if not self.bigrams:
            return 0.0
        return self._log_bigram(previous, word) + self._log_bigram(word, following)

    def _log_bigram(self, first: str, second: str) -> float:
        count = self.bigrams.get(f"{first} {second}", 0) + BIGRAM_SMOOTHING
        return math.log(count / (self._followed[first] + BIGRAM_SMOOTHING * len(self.vocabulary)))

    def save(self, directory: Path) -> None:
        (Path(directory) / VOCABULARY_FILE).write_text(json.dumps(self.vocabulary, sort_keys=True))
        (Path(directory) / BIGRAMS_FILE).write_text(json.dumps(self.bigrams, sort_keys=True))

    @classmethod
    def load(cls, directory: Path) -> Optional["TypoCorrector"]:
        """The corrector saved in ``directory``, or None if the model was saved without one."""
        directory = Path(directory)
        if not (directory / VOCABULARY_FILE).exists():
            return None
        bigrams_path = directory / BIGRAMS_FILE
        bigrams = json.loads(bigrams_path.read_text()) if bigrams_path.exists() else None
        return cls(json.loads((directory / VOCABULARY_FILE).read_text()), bigrams)
