"""Two encoders that differ only in their linear weights, run as one batched forward pass.

Serving with the frozen probe needs every message through two encoders: the fine-tuned one
(LoRA merged into its weights) and the untuned base. LoRA changes only linear layers, so the
two share everything else (embeddings, layer norms, attention arithmetic). Stacking each pair
of linear layers into one batched matmul lets a single forward pass over the message twice
(first copy through the base weights, second through the tuned ones) give both embeddings:
one pass's worth of Python and operator overhead instead of two, which is most of what a
pass of a six-layer encoder costs for a short chat message on a CPU.
"""
from __future__ import annotations

import copy
from typing import Optional, Tuple

import torch
from torch import nn


class PairedLinear(nn.Module):
    """``first`` on the first half of the batch, ``second`` on the second half, in one ``baddbmm``."""

    def __init__(self, first: nn.Linear, second: nn.Linear) -> None:
        super().__init__()
        # (2, in, out) and (2, 1, out): what baddbmm reads without transposing per call.
        self.weight = nn.Parameter(torch.stack([first.weight.T, second.weight.T]).contiguous(), requires_grad=False)
        self.bias = nn.Parameter(torch.stack([_bias(first), _bias(second)]).unsqueeze(1), requires_grad=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        halves = hidden.reshape(2, -1, hidden.shape[-1])
        return torch.baddbmm(self.bias, halves, self.weight).reshape(*hidden.shape[:-1], -1)


def pair_encoders(first: nn.Module, second: nn.Module) -> Optional[nn.Module]:
    """One module that runs ``first`` and ``second`` at once, or None if they differ in more
    than the weights of plain ``nn.Linear`` layers (e.g. ``second`` still carries unmerged
    adapters), where the two passes must stay separate."""
    first_linears, second_linears = _linears(first), _linears(second)
    if first_linears is None or second_linears is None or first_linears.keys() != second_linears.keys():
        return None
    if not _same_except(first, second, first_linears):
        return None
    # Share every tensor of ``second`` with the copy: only the stacked linears are new memory.
    shared = {id(tensor): tensor for tensor in [*second.parameters(), *second.buffers()]}
    paired = copy.deepcopy(second, memo=shared)
    if getattr(paired, "pooler", None) is not None:
        paired.pooler = None  # BERT's [CLS] pooler: the embeddings are mean-pooled, its output unused
    for name in _linears(paired):
        parent, _, attribute = name.rpartition(".")
        setattr(paired.get_submodule(parent), attribute, PairedLinear(first_linears[name], second_linears[name]))
    return paired.eval()


@torch.inference_mode()
def paired_hidden_states(
    paired: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The last hidden states of the first and of the second encoder, for the same batch."""
    hidden = paired(input_ids=input_ids.repeat(2, 1), attention_mask=attention_mask.repeat(2, 1)).last_hidden_state
    return hidden.chunk(2)


def _linears(module: nn.Module) -> Optional[dict]:
    """Every linear layer by name, or None if any is not a plain ``nn.Linear`` (peft's LoRA
    layers are subclasses that hold the base layer and the adapters separately)."""
    layers = {}
    for name, child in module.named_modules():
        if isinstance(child, nn.Linear):
            if type(child) is not nn.Linear:
                return None
            layers[name] = child
        elif type(child).__module__.startswith("peft"):
            return None
    return layers


def _same_except(first: nn.Module, second: nn.Module, linears: dict) -> bool:
    """Whether every parameter and buffer outside ``linears`` is equal in the two modules."""
    skipped = {f"{name}.{kind}" for name in linears for kind in ("weight", "bias")}
    first_state, second_state = first.state_dict(), second.state_dict()
    if set(first_state) != set(second_state):
        return False
    return all(torch.equal(first_state[key], second_state[key]) for key in first_state if key not in skipped)


def _bias(layer: nn.Linear) -> torch.Tensor:
    return layer.bias if layer.bias is not None else layer.weight.new_zeros(layer.out_features)
