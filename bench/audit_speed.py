"""Auditor speed (issue 2 figures), as ratios measured in one run.

1. Full audit (end to end + layer-wise + gradient) of an escnn C4 CNN on 29x29 inputs against
   the floor: one forward pass plus the input-gradient backward pass on the batch of all
   |G|+1 transformed copies. Target: at most 4x.
2. The end-to-end audit alone against one batched forward pass of those copies. Target: 1.5x.
3. The batched end-to-end test against a loop over group elements (one forward per element,
   f(x) computed once -- the audit guide's and e3nn's ``assert_equivariant`` pattern) on the
   same model and elements. Targets: at least 3x for a D4 eLinear MLP, 1.2x for the C4 CNN.
"""

from __future__ import annotations

import torch

import equidesign as eqd
from equidesign.auditor.endtoend import run_end_to_end
from equidesign.symmetry import Symmetry

from ._timing import interleaved
from .models import c4_cnn, d4_mlp


def _copies(symmetry: Symmetry, x: torch.Tensor) -> torch.Tensor:
    elements = symmetry.elements().elements
    batch = torch.cat([x.unsqueeze(0), symmetry.in_action.apply(elements, x)], 0)
    return batch.reshape(-1, *x.shape[1:])


def _floor_forward_backward(model, batch):
    def run():
        b = batch.clone().requires_grad_(True)
        loss = 0.5 * (model(b) ** 2).sum()
        torch.autograd.grad(loss, b)

    return run


def _floor_forward(model, batch):
    def run():
        with torch.no_grad():
            model(batch)

    return run


def _loop_baseline(model, symmetry: Symmetry, x: torch.Tensor):
    """One forward per element, f(x) once: what the audit guide's loop does (minus its redundancy)."""
    elements = symmetry.elements().elements

    def run():
        with torch.no_grad():
            y = model(x)
            worst = 0.0
            for e in elements:
                y_moved = model(symmetry.in_action.apply([e], x)[0])
                expected = symmetry.out_action.apply([e], y)[0]
                err = float((y_moved - expected).norm() / expected.norm().clamp_min(1e-30))
                worst = max(worst, err)
        return worst

    return run


def _batched_e2e(model, symmetry: Symmetry, x: torch.Tensor):
    """The auditor's end-to-end test: all copies in one forward, errors and levels per element."""
    elements = symmetry.elements().elements

    def run():
        return run_end_to_end(model, symmetry, x, elements, record=False)

    return run


def run(repeats: int = 7) -> list[dict]:
    torch.set_grad_enabled(True)
    results = []

    # --- C4 CNN: full audit and end-to-end audit against their floors --------------------
    cnn = c4_cnn()
    sym_img = Symmetry.images("C4", "trivial", "invariant", size=29)
    x_img = sym_img.example_input(4, seed=0)
    batch = _copies(sym_img, x_img)
    t = interleaved(
        {
            "floor_fb": _floor_forward_backward(cnn, batch),
            "floor_f": _floor_forward(cnn, batch),
            "full": lambda: eqd.audit(cnn, sym_img, x_img),
            "e2e": _batched_e2e(cnn, sym_img, x_img),
            "loop": _loop_baseline(cnn, sym_img, x_img),
        },
        repeats=repeats,
    )
    results.append(
        {
            "name": "C4 CNN 29x29: full audit / (forward + input-gradient backward of |G|+1 copies)",
            "ratio": t["full"] / t["floor_fb"],
            "target": "<= 4",
            "ok": t["full"] / t["floor_fb"] <= 4,
            "times": {"full": t["full"], "floor": t["floor_fb"]},
        }
    )
    results.append(
        {
            "name": "C4 CNN 29x29: end-to-end test / one batched forward of |G|+1 copies",
            "ratio": t["e2e"] / t["floor_f"],
            "target": "<= 1.5",
            "ok": t["e2e"] / t["floor_f"] <= 1.5,
            "times": {"e2e": t["e2e"], "floor": t["floor_f"]},
        }
    )
    results.append(
        {
            "name": "C4 CNN 29x29: loop over elements / batched end-to-end test (speed-up)",
            "ratio": t["loop"] / t["e2e"],
            "target": ">= 1.2",
            "ok": t["loop"] / t["e2e"] >= 1.2,
            "times": {"loop": t["loop"], "batched": t["e2e"]},
        }
    )

    # --- D4 eLinear MLP: batched against the loop --------------------------------------------
    mlp = d4_mlp()
    sym_vec = Symmetry.vectors("D4", "2 x regular", "invariant")
    x_vec = sym_vec.example_input(16, seed=0)
    t = interleaved(
        {"loop": _loop_baseline(mlp, sym_vec, x_vec), "e2e": _batched_e2e(mlp, sym_vec, x_vec)},
        repeats=repeats,
    )
    results.append(
        {
            "name": "D4 eLinear MLP: loop over elements / batched end-to-end test (speed-up)",
            "ratio": t["loop"] / t["e2e"],
            "target": ">= 3",
            "ok": t["loop"] / t["e2e"] >= 3,
            "times": {"loop": t["loop"], "batched": t["e2e"]},
        }
    )
    return results
