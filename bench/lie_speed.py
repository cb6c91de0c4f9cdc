"""Lie derivative speed (issue 5 figure): LEE of a ResNet-like CNN (about 10 layers, 64x64
inputs, batch 8) for all five image generators with per-layer attribution, per generator,
against one forward + backward pass on the same batch. Target: at most 6x."""

from __future__ import annotations

import torch

import equidesign as eqd
from equidesign.symmetry import Symmetry

from ._timing import interleaved
from .models import resnet_like


def run(repeats: int = 7) -> list[dict]:
    model = resnet_like()
    sym = Symmetry.images("C4", "3 x trivial", "invariant", size=64)
    x = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))

    def floor():
        xx = x.clone().requires_grad_(True)
        loss = model(xx).pow(2).sum()
        loss.backward()
        model.zero_grad(set_to_none=True)

    def lee():
        return eqd.lie_derivative(model, sym, x, layerwise=True)

    t = interleaved({"floor": floor, "lee": lee}, repeats=max(3, repeats // 2))
    per_generator = t["lee"] / 5
    ratio = per_generator / t["floor"]
    return [
        {
            "name": "ResNet-like 64x64 batch 8: LEE with attribution per generator / (forward + backward)",
            "ratio": ratio,
            "target": "<= 6",
            "ok": ratio <= 6,
            "times": {"lee_per_generator": per_generator, "forward_backward": t["floor"]},
        }
    ]
