"""Load the causal LM and its tokenizer; create, save and load LoRA adapters.

Only adapters are ever saved (peft's ``save_pretrained``): the base model is read
from its local directory, once per process, and copied for each adapted model
because peft injects adapters in place.
"""
from __future__ import annotations

import copy
import threading
from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerFast

from bot.assets import resolve_model_path
from bot.generation import precision
from bot.generation.config import GeneratorConfig


_base_lock = threading.Lock()


@lru_cache(maxsize=2)
def load_tokenizer(base_model: str) -> PreTrainedTokenizerFast:
    """The model's tokenizer, with a pad token and generation ending at end-of-turn."""
    path = resolve_model_path(base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ValueError(f"Model '{base_model}' has no chat template: use an instruct model.")
    return tokenizer


@lru_cache(maxsize=2)
def _pristine_model(path: str) -> PreTrainedModel:
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return model.eval()


def load_base_model(base_model: str) -> PreTrainedModel:
    """A fresh copy of the base model; the weights are read from disk once per process."""
    path = str(resolve_model_path(base_model))
    with _base_lock:
        model = copy.deepcopy(_pristine_model(path))
    tokenizer = load_tokenizer(base_model)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def new_adapter(config: GeneratorConfig) -> PeftModel:
    """The base model with fresh, trainable LoRA adapters."""
    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(load_base_model(config.base_model), lora)
    except ValueError as error:  # peft: target modules not found in the base model
        raise ValueError(f"Invalid value for 'lora_targets': {error}") from None


def load_adapter(directory: Path, base_model: str, trainable: bool = False) -> PeftModel:
    """Put an adapter saved with ``save_pretrained`` back onto the base model."""
    if not (Path(directory) / "adapter_config.json").is_file():
        raise FileNotFoundError(f"No LoRA adapter in {directory}: train it first.")
    return PeftModel.from_pretrained(load_base_model(base_model), str(directory), is_trainable=trainable)


def for_inference(model: PreTrainedModel, config: GeneratorConfig) -> PreTrainedModel:
    """Fold adapters into the weights (no per-token LoRA cost) and convert to the serving
    precision. CPU threads are chosen per reply, on the thread that generates
    (``bot.generation.threads``), not here: PyTorch's OpenMP setting is per thread."""
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    return precision.convert(model, config.inference_precision).eval()


def base_for_inference(config: GeneratorConfig) -> PreTrainedModel:
    """The base model without adapters, ready to generate (the benchmark's baseline)."""
    return for_inference(load_base_model(config.base_model), config)


def adapted_for_inference(directory: Optional[Path], config: GeneratorConfig) -> PreTrainedModel:
    """The base model with the adapter in ``directory`` merged in (or none if ``None``)."""
    if directory is None:
        return base_for_inference(config)
    return for_inference(load_adapter(directory, config.base_model), config)
