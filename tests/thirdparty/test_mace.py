"""MACE (mace-torch), small and with random weights: its forces come from ``torch.autograd.grad``
inside ``forward``. The audit must finish (gradients, forces, Lie derivative) and PASS, and a
planted fault must FAIL with its ``named_modules()`` path."""

from __future__ import annotations

import pytest

import equidesign as eqd

from ._graphs import ReLUAfter, molecules

pytest.importorskip("mace.modules")

from ._models import ATOMIC_NUMBERS, MaceOnBatch  # noqa: E402


def _inputs():
    return molecules(3, 5, len(ATOMIC_NUMBERS))


def test_mace_energy_with_its_forces_computed_inside_passes():
    """compute_force=True: MACE's own autograd.grad frees the energy's graph in eval mode; the
    gradient, force and Lie derivative phases still run, and the audit PASSes."""
    model = MaceOnBatch("energy", compute_force=True)
    sym = eqd.Symmetry.point_clouds("3x0e", "invariant", group="E3 x Sn", forces=True)
    report = eqd.audit(model, sym, inputs=_inputs())
    assert report.verdict == "PASS", report.to_text()
    assert report.forces is not None and report.forces.passed
    assert report.gradient is not None and report.gradient.passed
    assert report.lie_derivative is not None
    assert max(g.lee for g in report.lie_derivative.generators.values()) < 1e-4


def test_mace_own_forces_output_passes():
    model = MaceOnBatch("forces", compute_force=True)
    sym = eqd.Symmetry.point_clouds("3x0e", "1o", group="E3 x Sn", node_level=True)
    report = eqd.audit(model, sym, inputs=_inputs())
    assert report.verdict == "PASS", report.to_text()
    assert report.gradient is not None and report.gradient.passed
    assert report.lie_derivative is not None


def test_mace_node_features_pass():
    model = MaceOnBatch("node_feats", compute_force=False)
    irreps = "+".join(str(p.linear.irreps_out) for p in model.mace.products)
    sym = eqd.Symmetry.point_clouds("3x0e", irreps, group="E3 x Sn", node_level=True)
    report = eqd.audit(model, sym, inputs=_inputs(), lie_derivative=False)
    assert report.verdict == "PASS", report.to_text()


def test_a_fault_planted_in_mace_fails_at_its_layer():
    model = MaceOnBatch("forces", compute_force=True)
    fault = ReLUAfter(model.mace.interactions[0].linear)  # ReLU on 8x1o... vectors
    sym = eqd.Symmetry.point_clouds("3x0e", "1o", group="E3 x Sn", node_level=True)
    try:
        report = eqd.audit(model, sym, inputs=_inputs(), lie_derivative=False)
    finally:
        fault.remove()
    assert report.verdict == "FAIL", report.to_text()
    assert report.first_failing_layer == "mace.interactions.0.linear", report.to_text()
