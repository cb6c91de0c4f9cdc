"""MACE (mace-torch), small and with random weights: its forces come from ``torch.autograd.grad``
inside ``forward``. The audit must finish (gradients, forces, Lie derivative) and PASS, and a
planted fault must FAIL with its ``named_modules()`` path."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd

from ._graphs import ReLUAfter, molecules, radius_edges

mace_modules = pytest.importorskip("mace.modules")
o3 = pytest.importorskip("e3nn.o3")

ATOMIC_NUMBERS = [1, 6, 8]


def build_mace() -> torch.nn.Module:
    block = mace_modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    return mace_modules.MACE(
        r_max=4.0,
        num_bessel=4,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=len(ATOMIC_NUMBERS),
        hidden_irreps=o3.Irreps("8x0e+8x1o"),
        MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=torch.zeros(len(ATOMIC_NUMBERS)),
        avg_num_neighbors=4.0,
        atomic_numbers=ATOMIC_NUMBERS,
        correlation=2,
        gate=torch.nn.functional.silu,
    )


class MaceOnBatch(torch.nn.Module):
    """A PyG batch (pos, one-hot x) in MACE's input dict; returns one of MACE's outputs."""

    def __init__(self, output: str = "energy", compute_force: bool = True):
        super().__init__()
        self.mace = build_mace()
        self.output, self.compute_force = output, compute_force

    def forward(self, batch):
        edge_index = radius_edges(batch.pos, batch.batch, 4.0)
        zeros = torch.zeros(edge_index.shape[1], 3, dtype=batch.pos.dtype)
        data = {
            "positions": batch.pos,
            "node_attrs": batch.x,
            "edge_index": edge_index,
            "shifts": zeros,
            "unit_shifts": zeros,
            "cell": torch.zeros(3 * batch.num_graphs, 3, dtype=batch.pos.dtype),
            "batch": batch.batch,
            "ptr": batch.ptr,
            "head": torch.zeros(batch.num_graphs, dtype=torch.long),
        }
        out = self.mace(data, training=self.training, compute_force=self.compute_force)
        return out[self.output]


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
