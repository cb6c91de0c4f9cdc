"""The auditor on the field's own models (issue 10 figure), as ratios measured in one run.

A small random-weight MACE (mace-torch; energy, forces from autograd inside its forward) and
PyG's SchNet, each on 4 molecules of 12 atoms: the end-to-end audit (one batched pass of every
transformed copy, and the batch check) against ``e3nn.util.test.assert_equivariant`` on the same
model and the same number of transformations. Target: at least 3x faster.

e3nn's function takes a callable of tensors: the model is wrapped as ``f(pos) = model(Batch(pos,
...))`` with the atom types fixed, ``irreps_in = ["cartesian_points"]``, ``irreps_out =
["0e"]``. Each of its trials draws a rotation and applies it with and without parity and
translation (4 transformations) and evaluates ``f`` again for each; ``ntrials`` is chosen so that
it applies as many transformations as the audit's non-identity elements. The models come from
``tests/thirdparty/_models.py`` (the same builders as the tests).
"""

from __future__ import annotations

import torch

import equidesign as eqd

from ._timing import interleaved
from .molecule_speed import e3nn_baseline

ATOMS = 12
MOLECULES = 4


def _inputs():
    from tests.thirdparty._graphs import molecules

    batch = molecules(MOLECULES, ATOMS, types=3)
    batch.z = batch.z + 1  # atomic numbers for SchNet (MACE reads the one-hot x)
    return batch


def _models():
    from tests.thirdparty._models import MaceOnBatch, OnAtoms, schnet

    torch.manual_seed(0)
    mace = MaceOnBatch("energy", compute_force=True).eval()
    net = OnAtoms(schnet()).eval()
    return {
        "MACE": (mace, eqd.Symmetry.point_clouds("3x0e", "invariant", group="E3")),
        "SchNet": (net, eqd.Symmetry.point_clouds(None, "invariant", group="E3")),
    }


def run(repeats: int = 7) -> list[dict]:
    torch.set_grad_enabled(True)
    x = _inputs()
    results = []
    for name, (model, symmetry) in _models().items():
        symmetry.observe(x)
        moving = [e for e in symmetry.elements(0).elements if not e.identity]
        e3nn_run, e3nn_transforms = e3nn_baseline(
            model, x, len(moving), features=False, no_grad=False
        )

        def end_to_end(model=model, symmetry=symmetry):
            return eqd.audit(
                model, symmetry, x, layerwise=False, gradients=False, lie_derivative=False
            )

        report = eqd.audit(model, symmetry, x)
        if report.verdict != "PASS":
            raise RuntimeError(f"{name} should audit PASS, got {report.verdict}")
        t = interleaved({"e2e": end_to_end, "e3nn": e3nn_run}, repeats=repeats)
        speedup = t["e3nn"] / t["e2e"]
        results.append(
            {
                "name": f"{name} ({ATOMS} atoms x {MOLECULES}): e3nn assert_equivariant "
                f"({e3nn_transforms} transforms) / end-to-end audit ({len(moving)} elements) "
                "(speed-up)",
                "ratio": speedup,
                "target": ">= 3",
                "ok": speedup >= 3,
                "times": {"e3nn": t["e3nn"], "end_to_end": t["e2e"]},
            }
        )
    return results
