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


def _batch_sizes(model) -> list[int]:
    sizes: list[int] = []
    model.register_forward_pre_hook(lambda module, args: sizes.append(int(args[0].shape[0])))
    return sizes


def test_chunked_audit_keeps_every_pass_within_the_chunk_and_gives_the_same_result():
    model, sym, x = ZOO["d4_elinear_mlp"].build(0)  # 4 inputs, 8 elements: 36 samples at once
    whole = eqd.audit(model, sym, x)
    sizes = _batch_sizes(model)
    chunked = eqd.audit(model, sym, x, chunk=8)
    assert sizes and max(sizes) <= 8  # layer-wise recording and gradients included
    assert chunked.verdict == whole.verdict == "PASS"
    assert abs(chunked.end_to_end.max_rel - whole.end_to_end.max_rel) < 1e-6
    assert abs(chunked.gradient.max_rel - whole.gradient.max_rel) < 1e-6
    assert [layer.name for layer in chunked.layers] == [layer.name for layer in whole.layers]


def test_chunked_audit_of_a_cnn_gives_the_same_result():
    model, sym, x = ZOO["d4_cnn_torch"].build(0)
    whole = eqd.audit(model, sym, x)
    chunked = eqd.audit(model, sym, x, chunk=5)
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
    report = eqd.audit(model, sym, x)  # layer-wise and gradient tests too
    assert report.verdict == "PASS" and calls["big"] >= 1
    assert report.gradient is not None and report.gradient.passed and report.layers
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


def test_train_mode_gradient_test_that_does_not_fit_says_so(monkeypatch):
    model, sym, x = ZOO["c4_cnn_escnn"].build(0)  # InnerBatchNorm: a train-mode gradient test
    real = model.forward

    def forward(inp):
        if model.training:  # the orbit-augmented batch of the train-mode test
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(inp)

    monkeypatch.setattr(model, "forward", forward)
    report = eqd.audit(model, sym, x)
    train = next(m for m in report.gradient.modes if m.mode == "train")
    assert not train.checked and "does not fit in memory" in train.note
    assert "train mode: not checked" in report.to_text()
    assert report.verdict == "PASS"


def test_random_inputs_that_do_not_fit_the_declared_input_type_are_a_clear_error():
    from equidesign._libs import escnn_gspaces, escnn_nn

    enn, gspace = escnn_nn(), escnn_gspaces().rot2dOnR2(4)
    rgb = enn.FieldType(gspace, [gspace.trivial_repr] * 3)
    model = enn.R2Conv(rgb, enn.FieldType(gspace, [gspace.regular_repr]), 3, padding=1)
    with pytest.raises(AuditError, match=r"input type has 1 channels but the model declares"):
        eqd.audit(model, Symmetry.images("C4", size=9))  # in_type defaults to 1 x trivial
    report = eqd.audit(model, Symmetry.images("C4", "3 x trivial", "regular", size=9))
    assert report.verdict == "PASS"
