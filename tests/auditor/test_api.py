"""The audit API: inputs, chunking, dtypes, errors a user can make."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd
from equidesign.errors import AuditError, SymmetryError
from equidesign.symmetry import Symmetry
from tests.zoo import ZOO


def test_geometric_tensor_inputs_and_escnn_models_are_accepted():
    from equidesign._libs import escnn_nn

    model, sym, x = ZOO["c4_cnn_escnn"].build(0)
    gx = escnn_nn().GeometricTensor(x, sym.in_field_type)
    assert eqd.audit(model, sym, gx).verdict == "PASS"


def test_chunked_forward_passes_give_the_same_result():
    model, sym, x = ZOO["d4_cnn_torch"].build(0)
    whole = eqd.audit(model, sym, x, gradients=False)
    chunked = eqd.audit(model, sym, x, gradients=False, chunk=5)
    assert chunked.verdict == whole.verdict == "PASS"
    assert abs(chunked.end_to_end.max_rel - whole.end_to_end.max_rel) < 1e-6
    assert [layer.name for layer in chunked.layers] == [layer.name for layer in whole.layers]


def test_out_of_memory_falls_back_to_smaller_chunks(monkeypatch):
    from equidesign.auditor import _tensors

    model, sym, x = ZOO["d4_elinear_mlp"].build(0)
    calls = {"big": 0}
    real = model.forward

    def forward(inp):
        if inp.shape[0] > 8:
            calls["big"] += 1
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(inp)

    monkeypatch.setattr(model, "forward", forward)
    report = eqd.audit(model, sym, x, layerwise=False, gradients=False)
    assert report.verdict == "PASS" and calls["big"] >= 1
    assert _tensors.is_oom(RuntimeError("CUDA out of memory"))


def test_wrong_input_shape_is_a_clear_error():
    model, sym, _ = ZOO["d4_elinear_mlp"].build(0)
    with pytest.raises(SymmetryError, match="has dimension 16"):
        eqd.audit(model, sym, torch.randn(2, 5))


def test_model_errors_are_reported_as_audit_errors():
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    with pytest.raises(AuditError, match="the model raised ValueError: boom"):
        eqd.audit(Broken(), Symmetry.vectors("D4", "regular"))


def test_wrong_arguments_are_one_line_errors():
    with pytest.raises(AuditError, match="expected a torch.nn.Module"):
        eqd.audit("model", Symmetry.vectors("D4", "regular"))
    with pytest.raises(AuditError, match="expected an equidesign Symmetry"):
        eqd.audit(torch.nn.Identity(), "D4")


def test_tuple_outputs_need_a_wrapper():
    class Pair(torch.nn.Module):
        def forward(self, x):
            return x, x

    with pytest.raises(AuditError, match="returned tuple"):
        eqd.audit(Pair(), Symmetry.vectors("D4", "regular", "regular"))


def test_float64_audit_of_an_escnn_model():
    model, sym, x = ZOO["c4_cnn_torch"].build(0)
    report = eqd.audit(model, sym, x, dtype=torch.float64)
    assert report.verdict == "PASS" and report.settings.dtype == "float64"
    assert next(model.parameters()).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_audit_follows_the_model_onto_cuda():
    model, sym, x = ZOO["c4_cnn_torch"].build(0)
    report = eqd.audit(model.cuda(), sym, x)
    assert report.verdict == "PASS" and report.settings.device.startswith("cuda")
