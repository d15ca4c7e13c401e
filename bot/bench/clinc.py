"""CLINC150 splits for the NLU benchmark: full, 10-shot, noisy, and a quick subset."""
from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from bot.nlu.noise import corrupt
from bot.paths import datasets_dir

OOS = "out_of_scope"
Rows = List[Tuple[str, str]]  # (text, intent)


@dataclass(frozen=True)
class Splits:
    train: Rows
    val: Rows
    test: Rows


def load_clinc(subset_intents: Optional[int] = None) -> Splits:
    """CLINC150 'full' with oos rows as the intent ``out_of_scope``.

    ``subset_intents`` keeps only the first N in-scope intents (alphabetically) plus
    out_of_scope, for a quick run.
    """
    raw = json.loads((datasets_dir() / "clinc150" / "data_full.json").read_text())

    def rows(split: str) -> Rows:
        return [(t, i) for t, i in raw[split]] + [(t, OOS) for t, _ in raw[f"oos_{split}"]]

    splits = Splits(rows("train"), rows("val"), rows("test"))
    if subset_intents:
        keep = set(sorted({i for _, i in splits.train if i != OOS})[:subset_intents]) | {OOS}
        splits = Splits(*([r for r in rows_ if r[1] in keep] for rows_ in (splits.train, splits.val, splits.test)))
    return splits


def few_shot(rows: Rows, per_intent: int, seed: int = 0) -> Rows:
    """``per_intent`` examples of every label, out_of_scope included, sampled with ``seed``."""
    by_intent: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_intent[row[1]].append(row)
    rng = random.Random(seed)
    return [row for intent in sorted(by_intent) for row in rng.sample(by_intent[intent], per_intent)]


def noisy(rows: Rows, seed: int = 1234) -> Rows:
    """The same rows after seeded realistic corruption (about 5% of characters)."""
    rng = random.Random(seed)
    return [(corrupt(text, rng), intent) for text, intent in rows]
