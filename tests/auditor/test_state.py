"""An audit leaves no trace: modes, values, dtypes, RNG and matmul settings are restored."""

from __future__ import annotations

import torch

import equidesign as eqd
from equidesign.symmetry import Symmetry

from .models import d4_mlp


def _plain_bn_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.2)
    )


def test_training_modes_are_restored_per_module():
    model = _plain_bn_model()
    model.train()
    model[2].eval()
    eqd.audit(model, Symmetry.vectors("D4", "regular", "regular"))
    assert model.training and model[1].training and not model[2].training


def test_parameters_buffers_and_dtypes_are_untouched():
    model = _plain_bn_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    eqd.audit(model, Symmetry.vectors("D4", "regular", "regular"), dtype=torch.float64)
    after = model.state_dict()
    for k, v in before.items():
        assert after[k].dtype == v.dtype
        assert torch.equal(after[k], v), k


def test_global_rng_and_matmul_precision_are_restored():
    torch.manual_seed(123)
    torch.set_float32_matmul_precision("medium")
    try:
        model = d4_mlp()
        state = torch.get_rng_state()
        eqd.audit(model, Symmetry.vectors("D4", "2 x regular", "invariant"))
        assert torch.equal(torch.get_rng_state(), state)
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision("highest")


def test_audit_of_a_float64_request_runs_in_float64():
    report = eqd.audit(d4_mlp(), Symmetry.vectors("D4", "2 x regular"), dtype=torch.float64)
    assert report.settings.dtype == "float64"
    assert report.end_to_end.max_rel < 1e-12


def test_snapshots_restore_shared_and_expanded_tensors():
    """Modules can share a tensor, and a buffer can be an expanded view (one memory location
    for many elements): restoring them must neither fail nor leave the other dtype behind."""
    from equidesign.auditor._state import convert_floating, snapshot_tensors

    shared = torch.nn.Linear(4, 4)
    model = torch.nn.Sequential(shared, torch.nn.Tanh(), shared)
    model.register_buffer("grid", torch.ones(1).expand(4))  # an expanded view
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with snapshot_tensors(model):  # nothing changed: restored without writing into the view
        pass
    with snapshot_tensors(model):
        convert_floating(model, torch.float64)
        assert model[0].weight.dtype == torch.float64
    for k, v in model.state_dict().items():
        assert v.dtype == torch.float32 and torch.equal(v, before[k]), k
