"""The table of nlu_direct runs: scores recomputed from the saved predictions, means over seeds."""
from __future__ import annotations

import json

import pytest

from bot.bench.nlu_runs import load_run, markdown_table

GOLD = {"val": ["a", "b", "out_of_scope", "a"], "test": ["a", "b", "out_of_scope", "b"]}


def _run_file(tmp_path, name, seed, test_confidences):
    predictions = {
        # On validation, 0.5 separates the out-of-scope message from the rest.
        "val": [["a", 0.9], ["b", 0.8], ["a", 0.2], ["a", 0.7]],
        "test": [[intent, c] for intent, c in zip(["a", "b", "a", "a"], test_confidences)],
    }
    path = tmp_path / name
    settings = {"epochs": 20, "learning_rate": 1e-3, "emotion_corpus": None, "linear_probe": True, "seed": seed}
    path.write_text(json.dumps({"scenario": "clinc150_10shot", "settings": settings, "predictions": predictions}))
    return path


def test_scores_are_recomputed_at_the_validation_threshold(tmp_path):
    run = load_run(_run_file(tmp_path, "r.json", 42, [0.9, 0.9, 0.1, 0.9]), GOLD)
    assert run["label"] == "clinc150_10shot: linear_probe=True, seed=42"
    assert run["scores"]["val macro-F1"] == 1.0
    # Test: the OOS message falls below the threshold; the last message is wrong either way.
    assert run["scores"]["in-scope acc"] == pytest.approx((2 / 3, 2 / 3))
    assert run["scores"]["OOS recall"] == (1.0, 0.0)


def test_runs_that_differ_only_in_seed_get_a_mean_row(tmp_path):
    runs = [
        load_run(_run_file(tmp_path, "a.json", 42, [0.9, 0.9, 0.1, 0.9]), GOLD),
        load_run(_run_file(tmp_path, "b.json", 1, [0.9, 0.9, 0.9, 0.9]), GOLD),
    ]
    table = markdown_table(runs).splitlines()
    assert len(table) == 2 + 2 + 1
    assert table[-1].startswith("| mean of 2 seeds, clinc150_10shot: linear_probe=True |")
    # OOS recall at the threshold is 1.0 with one seed and 0.0 with the other.
    assert "0.500 / 0.000 (spread 1.000)" in table[-1]
