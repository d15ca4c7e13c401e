"""Seeded, realistic text corruption: typos, lost punctuation, random lower-casing.

Used twice with different seeds: to augment training data, and to build the noisy
test split of the NLU benchmark.
"""
from __future__ import annotations

import random
import string

# Neighbours on a QWERTY keyboard, for the typos people actually make.
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
KEYBOARD_NEIGHBOURS = {}
for r, row in enumerate(_ROWS):
    for c, key in enumerate(row):
        near = {row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)}
        for other in (r - 1, r + 1):
            if 0 <= other < len(_ROWS):
                near |= {_ROWS[other][i] for i in (c - 1, c, c + 1) if 0 <= i < len(_ROWS[other])}
        KEYBOARD_NEIGHBOURS[key] = sorted(near)


def corrupt(text: str, rng: random.Random, char_rate: float = 0.05) -> str:
    """Return ``text`` with about ``char_rate`` of its letters dropped, swapped or mistyped,
    punctuation dropped and, half of the time, everything lower-cased."""
    chars = list(text)
    out = []
    i = 0
    while i < len(chars):
        ch = chars[i]
        if ch in string.punctuation:
            i += 1  # dropped punctuation
            continue
        if ch.isalpha() and rng.random() < char_rate:
            kind = rng.choice(("drop", "swap", "neighbour"))
            if kind == "swap" and i + 1 < len(chars) and chars[i + 1].isalpha():
                out += [chars[i + 1], ch]
                i += 2
                continue
            if kind == "neighbour" and ch.lower() in KEYBOARD_NEIGHBOURS:
                out.append(rng.choice(KEYBOARD_NEIGHBOURS[ch.lower()]))
            i += 1  # "drop", or the mistyped key replaced it
            continue
        out.append(ch)
        i += 1
    noisy = "".join(out)
    return noisy.lower() if rng.random() < 0.5 else noisy
