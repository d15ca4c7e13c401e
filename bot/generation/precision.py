"""Serve the language model in the precision that decodes fastest on this CPU.

Decoding one token reads every weight of the model once, so on a 2-core CPU a
reply's latency is set by memory traffic, not arithmetic: 135M fp32 weights are
540 MB per token. ``bfloat16-int8`` keeps the decoder's linear weights as int8
with one scale per output channel (weight-only quantisation: activations stay
bfloat16, so the outlier activations of small LMs are not clipped) and the rest
in bfloat16: a quarter of the traffic in the layers that dominate it, with
perplexity unchanged to the first decimal (see the README's generation section).

The int8 matrix product is PyTorch's own ``aten._weight_int8pack_mm`` kernel, the
one gpt-fast and torchao's compiled path use. torchao's eager int8-weight linear
is not used because, without ``torch.compile``, it converts the whole weight back
to floating point on every call, which costs more traffic than it saves.

The kernel is only fast with bfloat16 activations, and bfloat16 arithmetic is
only fast on CPUs with native support (AVX512-BF16 or AMX); elsewhere both are
slower than fp32, so ``auto`` keeps fp32 there.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)

AUTO = "auto"
FLOAT32 = "float32"
BFLOAT16_INT8 = "bfloat16-int8"
PRECISIONS = (AUTO, FLOAT32, BFLOAT16_INT8)


class Int8WeightOnlyLinear(nn.Module):
    """A bias-free ``nn.Linear`` whose weight is int8 with a bfloat16 scale per output row."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        quantized = torch.round(weight / scale[:, None]).clamp(-128, 127).to(torch.int8)
        self.register_buffer("weight_int8", quantized.contiguous())
        self.register_buffer("scale", scale.to(torch.bfloat16).contiguous())
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16).contiguous()
        out = torch.ops.aten._weight_int8pack_mm(rows, self.weight_int8, self.scale)
        return out.reshape(*x.shape[:-1], self.out_features)


def native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve(precision: str) -> str:
    """``auto`` becomes the fastest precision for this CPU; the others stay as named."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision '{precision}': expected one of {', '.join(PRECISIONS)}.")
    if precision == AUTO:
        return BFLOAT16_INT8 if native_bfloat16() else FLOAT32
    return precision


def convert(model: nn.Module, precision: str) -> nn.Module:
    """``model`` (fp32, adapters already merged) in ``precision``, in place; returns it.

    Only the decoder's bias-free linear layers become int8: the output layer shares
    its weight with the token embeddings (quantising it gained no speed here) and
    stays bfloat16 like the norms.
    """
    precision = resolve(precision)
    if precision == FLOAT32:
        return model
    model.to(torch.bfloat16)
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    for parent in list(decoder.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child.bias is None:
                setattr(parent, name, Int8WeightOnlyLinear(child))
    logger.info("Language model served in bfloat16 with int8 decoder weights.")
    return model
