"""Molecule audit speed (issue 4 figures), as ratios measured in one run.

The model is the generated E3 x Sn molecule potential (``specs/e3_molecule_energy_forces.yaml``
with 20 atoms per molecule), audited on 4 molecules.

1. The audit (end to end + layer-wise + gradient + the force test of the conservative model; no
   Lie derivative) against the floor: one forward pass plus the input-gradient backward pass on
   the batch of all transformed copies. Target: at most 4x.
2. The end-to-end audit against ``e3nn.util.test.assert_equivariant`` on the same model and the
   same number of transformations. Target: at least 2x faster.

e3nn's function takes a callable of tensors, not a PyG batch: the model is wrapped as
``f(pos, x) = model(Batch(pos=pos, x=x, batch=..., ptr=...))`` with ``irreps_in =
["cartesian_points", "<atom types>x0e"]`` and ``irreps_out = ["0e"]``. Each of its trials draws
a rotation and applies it with and without parity and translation (4 transformations); it
evaluates ``f(x)`` again for each of them and never permutes atoms. ``ntrials`` is chosen so
that it applies as many transformations as the audit's non-identity elements.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

import equidesign as eqd

from ._timing import interleaved

ATOMS = 20
MOLECULES = 4
SPEC = Path(__file__).resolve().parents[1] / "specs" / "e3_molecule_energy_forces.yaml"


def _model():
    text = re.sub(r"size: \d+", f"size: {ATOMS}", SPEC.read_text())
    design = eqd.design(text)
    model = design.build(seed=0).eval()
    x = design.example_input(batch=MOLECULES, seed=0)
    return model, design.symmetry, x


def _floor_forward_backward(model, symmetry, x, elements):
    stacked = symmetry.io.stack(x, elements)

    def run():
        batch = stacked.clone()
        batch.pos = batch.pos.detach().requires_grad_(True)
        batch.x = batch.x.detach().requires_grad_(True)
        loss = 0.5 * (model(batch) ** 2).sum()
        torch.autograd.grad(loss, [batch.pos, batch.x])

    return run


def e3nn_baseline(model, x, n_transforms: int, *, features: bool = True, no_grad: bool = True):
    """``assert_equivariant`` on ``f(pos[, x]) = model(batch with them)`` (the batch's other
    attributes held fixed), with as many transformations as ``n_transforms`` (4 per trial);
    ``features``: the node features ``x`` are an argument too (invariant scalars); ``no_grad``:
    without autograd (a model that differentiates inside forward needs it on)."""
    from e3nn.util.test import assert_equivariant
    from torch_geometric.data import Batch

    moved = ("pos", "x") if features else ("pos",)
    fixed = {k: x[k] for k in x.keys() if k not in moved}
    args = [x[k] for k in moved]
    irreps = ["cartesian_points"] + ([f"{x.x.shape[1]}x0e"] if features else [])

    def energy(*values):
        out = model(Batch(**dict(zip(moved, values, strict=True)), **fixed))
        return out.reshape(out.shape[0], -1)  # (graphs, 1): one 0e per graph

    trials = max(1, n_transforms // 4)

    def run():
        with torch.set_grad_enabled(not no_grad):
            assert_equivariant(
                energy,
                args_in=args,
                irreps_in=irreps,
                irreps_out=["0e"],
                ntrials=trials,
                tolerance=5e-2,  # e3nn's float32 default (1e-3) is absolute; energies are O(1)
            )

    return run, 4 * trials


def run(repeats: int = 7) -> list[dict]:
    torch.set_grad_enabled(True)
    model, symmetry, x = _model()
    symmetry.observe(x)
    elements = symmetry.elements(0).elements
    moving = [e for e in elements if not e.identity]
    e3nn_run, e3nn_transforms = e3nn_baseline(model, x, len(moving))

    def full():
        return eqd.audit(model, symmetry, x, lie_derivative=False)

    def end_to_end():
        return eqd.audit(model, symmetry, x, layerwise=False, gradients=False, lie_derivative=False)

    report = full()
    if report.verdict != "PASS":
        raise RuntimeError(f"the molecule model should audit PASS, got {report.verdict}")
    t = interleaved(
        {
            "floor": _floor_forward_backward(model, symmetry, x, elements),
            "full": full,
            "e2e": end_to_end,
            "e3nn": e3nn_run,
        },
        repeats=repeats,
    )
    full_ratio = t["full"] / t["floor"]
    speedup = t["e3nn"] / t["e2e"]
    return [
        {
            "name": f"E3 x Sn molecule ({ATOMS} atoms x {MOLECULES}): full audit / (forward + "
            f"input-gradient backward of the {len(elements) + 1} copies)",
            "ratio": full_ratio,
            "target": "<= 4",
            "ok": full_ratio <= 4,
            "times": {"full": t["full"], "floor": t["floor"]},
        },
        {
            "name": f"E3 x Sn molecule: e3nn assert_equivariant ({e3nn_transforms} transforms) / "
            f"end-to-end audit ({len(moving)} elements) (speed-up)",
            "ratio": speedup,
            "target": ">= 2",
            "ok": speedup >= 2,
            "times": {"e3nn": t["e3nn"], "end_to_end": t["e2e"]},
        },
    ]
