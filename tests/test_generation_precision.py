"""Serving precision of the language model (bot.generation.precision) on the real base weights."""
from __future__ import annotations

import pytest
import torch

from bot.generation import precision
from bot.generation.config import ConfigError, GeneratorConfig
from bot.generation.model import base_for_inference, load_tokenizer

PROMPT = "I lost my job today and I don't know what to tell my family."


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(GeneratorConfig().base_model)


@pytest.fixture(scope="module")
def float32_model():
    return base_for_inference(GeneratorConfig(inference_precision=precision.FLOAT32))


@pytest.fixture(scope="module")
def int8_model():
    return base_for_inference(GeneratorConfig(inference_precision=precision.BFLOAT16_INT8))


def test_int8_linear_matches_the_float_layer() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(576, 1536, bias=False)
    x = torch.randn(3, 7, 576)
    expected = linear(x)
    got = precision.Int8WeightOnlyLinear(linear)(x).float()
    assert got.shape == expected.shape
    relative = (got - expected).norm() / expected.norm()
    assert relative < 0.02, relative


def test_decoder_weights_become_int8_and_the_output_layer_does_not(int8_model) -> None:
    int8_layers = [m for m in int8_model.modules() if isinstance(m, precision.Int8WeightOnlyLinear)]
    assert len(int8_layers) == 7 * int8_model.config.num_hidden_layers  # q, k, v, o, gate, up, down
    assert int8_model.lm_head.weight.dtype == torch.bfloat16
    assert not any(isinstance(m, torch.nn.Linear) for m in int8_model.get_decoder().modules())


def test_float32_is_left_untouched(float32_model) -> None:
    assert not any(isinstance(m, precision.Int8WeightOnlyLinear) for m in float32_model.modules())
    assert {p.dtype for p in float32_model.parameters()} == {torch.float32}


def test_int8_model_reads_text_as_well_as_float32(float32_model, int8_model, tokenizer) -> None:
    """Same next-token loss on a real sentence to within 2%, and the same greedy choice."""
    ids = tokenizer(PROMPT * 3, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        reference = float32_model(input_ids=ids, labels=ids)
        quantized = int8_model(input_ids=ids, labels=ids)
    assert abs(quantized.loss.float() - reference.loss) / reference.loss < 0.02
    agreement = (quantized.logits.argmax(-1) == reference.logits.argmax(-1)).float().mean()
    assert agreement > 0.9, agreement


def test_auto_follows_the_cpu() -> None:
    expected = precision.BFLOAT16_INT8 if precision.native_bfloat16() else precision.FLOAT32
    assert precision.resolve(precision.AUTO) == expected
    assert precision.resolve(precision.FLOAT32) == precision.FLOAT32


def test_unknown_precision_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="inference_precision"):
        GeneratorConfig(inference_precision="int4")
