"""NequIP's default build (nequip 0.19), small and with random weights: energy with its own
forces (autograd inside forward), and its forces output. nequip's global state sets torch's
default dtype to float64: each test restores it, so that nothing else runs in float64."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd

from ._graphs import molecules, radius_edges

pytest.importorskip("nequip")


@pytest.fixture
def nequip_model():
    default = torch.get_default_dtype()
    try:
        from nequip.model import NequIPGNNModel
        from nequip.utils.global_state import set_global_state

        set_global_state()
        model = NequIPGNNModel(
            seed=0,
            model_dtype="float32",
            type_names=["H", "C", "O"],
            r_max=4.0,
            num_layers=2,
            l_max=1,
            num_features=4,
            radial_mlp_width=8,
            avg_num_neighbors=4.0,
        )
    finally:
        torch.set_default_dtype(default)
    yield model
    torch.set_default_dtype(default)


class NequipOnBatch(torch.nn.Module):
    """A PyG batch (pos, atom types z) as nequip's AtomicDataDict; returns one output."""

    def __init__(self, model: torch.nn.Module, output: str):
        super().__init__()
        self.model, self.output = model, output

    def forward(self, batch):
        data = {
            "pos": batch.pos,
            "edge_index": radius_edges(batch.pos, batch.batch, 4.0),
            "atom_types": batch.z,
            "batch": batch.batch,
            "num_atoms": torch.bincount(batch.batch),
        }
        return self.model(data)[self.output]


def test_nequip_energy_passes(nequip_model):
    model = NequipOnBatch(nequip_model, "total_energy")
    sym = eqd.Symmetry.point_clouds(None, "invariant", group="E3 x Sn", forces=True)
    report = eqd.audit(model, sym, inputs=molecules())
    assert torch.get_default_dtype() == torch.float32
    assert report.verdict == "PASS", report.to_text()
    assert report.forces is not None and report.forces.passed
    assert report.lie_derivative is not None


def test_nequip_own_forces_pass(nequip_model):
    model = NequipOnBatch(nequip_model, "forces")
    sym = eqd.Symmetry.point_clouds(None, "1o", group="E3 x Sn", node_level=True)
    report = eqd.audit(model, sym, inputs=molecules(), lie_derivative=False)
    assert report.verdict == "PASS", report.to_text()
    assert report.gradient is not None and report.gradient.passed


class AbsolutePositions(NequipOnBatch):
    """A planted fault: the energy also reads absolute positions (no translation moves it)."""

    def forward(self, batch):
        return super().forward(batch) + 1e-2 * batch.pos[:, :1].sum()


def test_a_failing_nequip_model_is_rerun_in_float64(nequip_model):
    """nequip casts to its model_dtype attributes: the float64 re-run converts them too (it
    raised 'expected m1 and m2 to have the same dtype' and left round-off unresolved)."""
    model = AbsolutePositions(nequip_model, "total_energy")
    dtypes = {
        name: m._output_dtype for name, m in model.named_modules() if hasattr(m, "_output_dtype")
    }
    sym = eqd.Symmetry.point_clouds(None, "invariant", group="E3 x Sn", forces=True)
    report = eqd.audit(model, sym, inputs=molecules(), lie_derivative=False)
    assert report.verdict == "FAIL"
    rerun = report.end_to_end.float64
    assert rerun is not None and rerun.cause == "structure", rerun
    after = {
        name: m._output_dtype for name, m in model.named_modules() if hasattr(m, "_output_dtype")
    }
    assert after == dtypes  # restored
