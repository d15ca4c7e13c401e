"""The base and the fine-tuned encoder run as one batched pass (``bot.nlu.paired_encoder``):
the same embeddings as two separate passes, and no pairing where it would be wrong."""
from __future__ import annotations

import copy

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn

from bot.nlu.classifier import fit
from bot.nlu.config import ClassifierConfig
from bot.nlu.model import IntentEmotionModel, load_base_encoder, load_tokenizer, mean_pool
from bot.nlu.paired_encoder import pair_encoders, paired_hidden_states
from bot.nlu.training import Example

BASE = "all-MiniLM-L6-v2"
TEXTS = ["hello there", "will it rain tomorrow in the north of the city", "🙂", "send 50 dollars to my savings"]


def _tuned(base: nn.Module) -> nn.Module:
    """A copy of ``base`` whose linear weights are moved well away from it (as a merged
    LoRA moves them), so that mixing up the two halves of the batch cannot pass unseen."""
    tuned = copy.deepcopy(base)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in tuned.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.add_(torch.randn(layer.weight.shape, generator=generator) * 0.05)
                layer.bias.add_(torch.randn(layer.bias.shape, generator=generator) * 0.05)
    return tuned


def _hidden(encoder: nn.Module, batch) -> torch.Tensor:
    with torch.inference_mode():
        return encoder(**batch).last_hidden_state


@pytest.fixture(scope="module")
def batch():
    return dict(load_tokenizer(BASE)(TEXTS, padding=True, return_tensors="pt"))


def test_one_pass_gives_both_encoders_hidden_states(batch):
    base = load_base_encoder(BASE)
    tuned = _tuned(base)
    paired = pair_encoders(base, tuned)
    assert paired is not None
    first, second = paired_hidden_states(paired, batch["input_ids"], batch["attention_mask"])
    expected_first, expected_second = _hidden(base, batch), _hidden(tuned, batch)
    mask = batch["attention_mask"]
    torch.testing.assert_close(mean_pool(first, mask), mean_pool(expected_first, mask), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mean_pool(second, mask), mean_pool(expected_second, mask), atol=1e-5, rtol=1e-5)
    # The two really differ: a pairing that swapped or shared the weights would fail above.
    assert (mean_pool(expected_first, mask) - mean_pool(expected_second, mask)).abs().max() > 1e-2


def test_pairing_shares_all_but_the_linear_weights():
    base = load_base_encoder(BASE)
    tuned = _tuned(base)
    paired = pair_encoders(base, tuned)
    assert paired.embeddings.word_embeddings.weight is tuned.embeddings.word_embeddings.weight
    assert not any(isinstance(m, nn.Linear) for m in paired.modules())


def test_unmerged_adapters_are_not_paired():
    base = load_base_encoder(BASE)
    adapted = get_peft_model(load_base_encoder(BASE), LoraConfig(r=4, target_modules=["query", "value"]))
    assert pair_encoders(base, adapted) is None


def test_encoders_that_differ_outside_linear_layers_are_not_paired():
    base = load_base_encoder(BASE)
    other = copy.deepcopy(base)
    with torch.no_grad():
        other.encoder.layer[0].output.LayerNorm.weight.mul_(1.1)
    assert pair_encoders(base, other) is None


def test_a_loaded_model_predicts_in_one_pass_what_two_passes_give(tmp_path):
    examples = [Example(t, i) for t, i in zip(TEXTS, ["greet", "weather", "greet", "transfer"])]
    settings = ClassifierConfig(emotion_corpus=None, epochs=1, typo_correction=False, learning_rate=0.05)
    fit(examples, settings).save_pretrained(tmp_path)
    loaded = IntentEmotionModel.from_pretrained(tmp_path)
    assert loaded.paired_encoder is not None
    paired = loaded.predict(TEXTS)
    loaded.paired_encoder = None
    separate = loaded.predict(TEXTS)
    for one, two in zip(paired, separate):
        torch.testing.assert_close(one, two, atol=1e-5, rtol=1e-5)
