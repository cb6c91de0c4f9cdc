"""The zoo checked without the auditor: escnn's own transforms and representation matrices.

Correct entries are equivariant to 1e-5 on every grid-exact element; every planted fault is
real and sits at the layer the entry names (tested alone on the input it receives in the model).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from equidesign._libs import escnn_nn
from equidesign.symmetry import FieldAction, RepAction, TrivialAction

from . import ZOO


def _tensor(value):
    return value.tensor if isinstance(value, escnn_nn().GeometricTensor) else value


def _oracle_act(action, g, x):
    """g·x with escnn's transforms (FieldType.transform) or rep matrices, not equidesign's."""
    if isinstance(action, TrivialAction):
        return x
    if isinstance(action, FieldAction):
        return action.field_type.transform(x, g, order=1)
    if isinstance(action, RepAction):
        mat = torch.as_tensor(np.asarray(action.rep(g)), dtype=x.dtype)
        return torch.movedim(torch.movedim(x, action.dim, -1) @ mat.T, -1, action.dim)
    raise TypeError(action)


def _exact_elements(sym):
    return [e.value for e in sym.elements().elements if e.exact and not e.identity]


def _call(model, sym, x):
    return _tensor(model(sym.model_input(model, x)))


def _rel(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def _e2e(model, sym, x):
    with torch.no_grad():
        y = _call(model, sym, x)
        return max(
            _rel(
                _call(model, sym, _oracle_act(sym.in_action, g, x)),
                _oracle_act(sym.out_action, g, y),
            )
            for g in _exact_elements(sym)
        )


def _inputs(entry, sym, x):
    return x if x is not None else sym.example_input(4, seed=0)


def _layer_io(model, sym, x, name):
    module = dict(model.named_modules())[name]
    seen = {}

    def hook(mod, args, out):
        seen["in"], seen["out"] = args[0], out

    handle = module.register_forward_hook(hook)
    with torch.no_grad():
        _call(model, sym, x)
    handle.remove()
    return module, seen["in"], seen["out"]


def _layer_error(model, sym, x, name, in_action, out_action):
    module, h, y = _layer_io(model, sym, x, name)
    enn = escnn_nn()
    field_type = h.type if isinstance(h, enn.GeometricTensor) else None

    def wrap(t):
        return t if field_type is None else enn.GeometricTensor(t, field_type)

    h, y = _tensor(h), _tensor(y)
    errors = []
    with torch.no_grad():
        for g in _exact_elements(sym):
            out = _tensor(module(wrap(_oracle_act(in_action, g, h))))
            errors.append(_rel(out, _oracle_act(out_action, g, y)))
    return max(errors)


def _regular_fields(model):
    return model.hidden


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if e.correct))
def test_correct_entries_are_equivariant(name):
    model, sym, x = ZOO[name].build(0)
    assert _e2e(model, sym, _inputs(ZOO[name], sym, x)) <= 1e-5


@pytest.mark.parametrize(
    "name",
    ["plain_batchnorm_regular", "custom_layer_bug", "border_crop_bug", "wrong_parity_stride"],
)
def test_image_faults_break_the_named_layer(name):
    entry = ZOO[name]
    model, sym, x = entry.build(0)
    x = _inputs(entry, sym, x)
    fields = FieldAction(model.hidden)
    assert _e2e(model, sym, x) > 1e-2
    assert _layer_error(model, sym, x, entry.fault_layer, fields, fields) > 1e-2


def test_plain_batchnorm_at_init_breaks_only_through_batch_composition():
    model, sym, _ = ZOO["plain_batchnorm_at_init"].build(0)
    x = sym.example_input(4, seed=0)
    assert _e2e(model, sym, x) < 1e-5  # eval mode at initial statistics: harmless
    module, h, _ = _layer_io(model, sym, x, "middle")
    g = _exact_elements(sym)[0]
    moved = _oracle_act(FieldAction(model.hidden), g, h)
    module.train()
    with torch.no_grad():
        out = module(torch.cat([h, moved]))
    assert _rel(out[4:], _oracle_act(FieldAction(model.hidden), g, out[:4])) > 1e-2


@pytest.mark.parametrize("name", ["relu_on_irreps", "unprojected_linear"])
def test_vector_faults_break_end_to_end_and_at_the_named_layer(name):
    entry = ZOO[name]
    model, sym, x = entry.build(0)
    x = _inputs(entry, sym, x)
    idx = int(entry.fault_layer)
    before = [m for m in list(model)[:idx] if hasattr(m, "out_rep")]
    after = [m for m in list(model)[idx + 1 :] if hasattr(m, "in_rep")]
    in_rep = RepAction(before[-1].out_rep)
    out_rep = RepAction(after[0].in_rep) if after else sym.out_action
    assert _e2e(model, sym, x) > 1e-2
    assert _layer_error(model, sym, x, entry.fault_layer, in_rep, out_rep) > 1e-2


def test_relu_hidden_by_head_is_invisible_end_to_end_but_broken_alone():
    model, sym, _ = ZOO["relu_hidden_by_head"].build(0)
    x = sym.example_input(4, seed=0)
    rep = RepAction(model[0].out_rep)
    assert _e2e(model, sym, x) < 1e-5
    assert _layer_error(model, sym, x, "1", rep, rep) > 1e-2


def test_tiny_breakage_is_approximate():
    model, sym, _ = ZOO["tiny_breakage"].build(0)
    assert 1e-4 < _e2e(model, sym, sym.example_input(4, seed=0)) < 1e-2


def test_gradient_only_fault_passes_forward_and_fails_backward():
    model, sym, _ = ZOO["gradient_only"].build(0)
    x = sym.example_input(4, seed=0)
    assert _e2e(model, sym, x) < 1e-5
    g = _exact_elements(sym)[0]

    def grad(inp):
        inp = inp.clone().requires_grad_(True)
        (0.5 * (model(inp) ** 2).sum()).backward()
        return inp.grad

    assert (
        _rel(grad(_oracle_act(sym.in_action, g, x)), _oracle_act(sym.in_action, g, grad(x))) > 1e-2
    )


def test_wrong_output_type_fits_the_regular_representation():
    model, sym, _ = ZOO["wrong_output_type"].build(0)
    x = sym.example_input(4, seed=0)
    assert _e2e(model, sym, x) > 1e-2
    regular = RepAction(sym.escnn_group.regular_representation)
    with torch.no_grad():
        y = model(x)
        err = max(
            _rel(model(_oracle_act(sym.in_action, g, x)), _oracle_act(regular, g, y))
            for g in _exact_elements(sym)
        )
    assert err < 1e-5


def test_precision_cancellation_is_round_off():
    model, sym, _ = ZOO["precision_cancellation"].build(0)
    x = sym.example_input(4, seed=0)
    assert 1e-4 < _e2e(model, sym, x)
    model64 = model.double()
    assert _e2e(model64, sym, x.double()) < 1e-9
