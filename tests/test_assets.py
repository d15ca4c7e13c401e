"""Base models resolve offline by name; bad names fail in one clear line."""
from pathlib import Path

import pytest

from bot.assets import AssetError, resolve_model_path


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_default_encoder_resolves_offline(name):
    path = resolve_model_path(name)
    assert (path / "config.json").is_file()
    assert list(path.glob("*.safetensors"))


def test_default_generator_resolves_to_a_fast_safetensors_cache():
    import time

    from transformers import AutoModelForCausalLM

    path = resolve_model_path("SmolLM2-135M-Instruct")  # converts once if not cached yet
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(path)
    assert time.perf_counter() - start < 5  # a reload, not a GGUF dequantization
    assert model.config.model_type == "llama"


def test_local_directory_is_used_as_is():
    path = resolve_model_path("all-MiniLM-L6-v2")
    assert resolve_model_path(str(path)) == path


@pytest.mark.parametrize("name", ["no-such-org/no-such-model", "definitely-not-a-model", ""])
def test_unknown_name_is_one_clear_line(name):
    with pytest.raises(AssetError) as error:
        resolve_model_path(name)
    message = str(error.value)
    assert "\n" not in message
    assert "base_model" in message


def test_corrupt_directory_is_one_clear_line(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(AssetError, match="no \\*.safetensors"):
        resolve_model_path(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(AssetError, match="empty weights"):
        resolve_model_path(str(tmp_path))
