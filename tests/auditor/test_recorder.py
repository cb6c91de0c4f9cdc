"""The recorder keeps the original inputs' share of every tensor, never the whole batch of
transformed copies: the full activations are freed as the forward pass goes on."""

from __future__ import annotations

import gc
import weakref

import torch

import equidesign as eqd
from equidesign.auditor.endtoend import run_end_to_end


class Remember(torch.nn.Module):
    """Identity that remembers (weakly) every tensor it returns."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[weakref.ref] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * 1.0
        self.seen.append(weakref.ref(y))
        return y


def test_recorded_pass_frees_the_batch_and_keeps_the_first_copy():
    sym = eqd.Symmetry.vectors("C4", "regular", "regular")
    remember = Remember()
    model = torch.nn.Sequential(torch.nn.Identity(), remember, torch.nn.ReLU()).eval()
    x = sym.example_input(3, seed=0)
    e2e = run_end_to_end(model, sym, x, sym.elements().elements, record=True)
    gc.collect()
    (full,) = remember.seen
    assert full() is None, "the recorder keeps the batch of all transformed copies alive"
    call = next(c for c in e2e.recorder.calls if c.module is remember)
    # what it kept: the input and output on x alone, and the shape of what was passed
    assert call.output.shape == (3, 4) and call.args[0].shape == (3, 4)
    torch.testing.assert_close(call.output, x)
    assert call.raw_args[0].device.type == "meta" and call.raw_args[0].shape == (15, 4)
