"""The benchmark's frozen baseline embeds with the encoder ours fine-tunes, whatever it is."""
from __future__ import annotations

import json

import pytest

from bot.assets import AssetError
from bot.bench.nlu import _frozen_settings
from bot.bench.nlu_side import FROZEN_SETTINGS_FILE, _load_frozen, _train_frozen

ROWS = [["book a flight to paris", "book_flight"], ["what is my balance", "balance"]] * 3


def test_the_frozen_side_follows_ours_base_model():
    assert _frozen_settings("clinc150_10shot", {}) == {"base_model": "all-MiniLM-L6-v2"}
    assert _frozen_settings("clinc150_full", {"base_model": "/models/bigger"}) == {"base_model": "/models/bigger"}


def test_the_frozen_side_reads_its_encoder_from_the_run_folder(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps(ROWS))
    (tmp_path / FROZEN_SETTINGS_FILE).write_text(json.dumps({"base_model": "no-such-encoder"}))
    with pytest.raises(AssetError, match="no-such-encoder"):
        _train_frozen(tmp_path)


def test_a_folder_from_before_frozen_json_uses_the_default_encoder(tmp_path):
    (tmp_path / "train.json").write_text(json.dumps(ROWS))
    _train_frozen(tmp_path)
    assert _load_frozen(tmp_path)("fly me to paris")[0][0] == "book_flight"
