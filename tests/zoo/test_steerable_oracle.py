"""The SO(2) image and SO(3) voxel zoos checked without equidesign's auditor: escnn alone.

Group elements come from escnn's groups: the quarter turns and the 24 rotations of the cube,
which map the grid onto itself, and seeded Haar-random rotations, which need interpolation.
Images and fields move with escnn's ``FieldType.transform``. On the grid-exact elements a
correct model is equivariant to float32 round-off, in its outputs and input gradients; at the
random angles its error stays within a few times the interpolation error of its own input and
output (rotate, then rotate back). A planted fault breaks the grid-exact elements, and sits
where its entry says: the fault layer's input transforms as the field type around it (nothing
upstream is broken), and the layer alone does not.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from equidesign._libs import escnn_nn

from . import ZOO as _ALL

FAMILIES = ("so2", "voxels")
ZOO = {n: e for n, e in _ALL.items() if e.build.__module__.rsplit(".", 1)[-1] in FAMILIES}
EXACT = 1e-5
BROKEN = 1e-2
RATIO = 3.0  # off-grid error over the interpolation error of input and output, at most


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


def _grid_exact(G) -> list:
    """The non-identity rotations the grid carries: quarter turns, or the cube's rotations."""
    if type(G).__name__ == "SO2":
        return [G.element(k * math.pi / 2) for k in (1, 2, 3)]
    cube = [
        m
        for p in itertools.permutations(range(3))
        for signs in itertools.product((1.0, -1.0), repeat=3)
        if np.linalg.det(m := np.eye(3)[list(p)] * np.array(signs)) > 0
    ]
    return [G.element(m, "MAT") for m in cube if not np.allclose(m, np.eye(3))]


def _haar(G, count: int = 3) -> list:
    np.random.seed(0)
    return [G.sample() for _ in range(count)]


def _out_type(model):
    return getattr(model, "out_type", None) if getattr(model, "dense", True) else None


def _act(field_type, g, t: torch.Tensor) -> torch.Tensor:
    """g · t: FieldType.transform on fields; invariant outputs (no field type) do not move."""
    return t if field_type is None else field_type.transform(t, g, order=3).to(t.dtype)


def _batched(fn, copies: list[torch.Tensor]) -> list[torch.Tensor]:
    """fn on every copy in one call (eval-mode models treat samples alone)."""
    return list(fn(torch.cat(copies)).split(copies[0].shape[0]))


def _capture(model, x, name):
    module = dict(model.named_modules())[name]
    seen = {}

    def hook(_m, args, out):
        seen["in"], seen["out"] = args[0], out

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return module, seen["in"], seen["out"]


def _grad(model, x):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(0.5 * (model(x) ** 2).sum(), x)[0]


def _setup(name):
    model, sym, x = ZOO[name].build(0)
    G = model.in_type.gspace.fibergroup
    assert sym.escnn_group == G  # the entry's symmetry acts with the model's group
    return model, x, G


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if e.correct))
def test_correct_models_are_exact_on_the_grid_and_within_interpolation_off_it(name):
    model, x, G = _setup(name)
    t_in, t_out = model.in_type, _out_type(model)
    exact, haar = _grid_exact(G), _haar(G)
    with torch.no_grad():
        y = model(x)
        moved = _batched(model, [_act(t_in, g, x) for g in exact + haar])
        errors = [_rel(m, _act(t_out, g, y)) for m, g in zip(moved, exact, strict=False)]
        assert max(errors) <= EXACT
        for m, g in zip(moved[len(exact) :], haar, strict=True):
            model_err = _rel(m, _act(t_out, g, y))
            floor = max(
                _rel(_act(t_in, ~g, _act(t_in, g, x)), x),
                _rel(_act(t_out, ~g, _act(t_out, g, y)), y) if t_out is not None else 0.0,
            )
            assert model_err <= RATIO * floor, (g, model_err, floor)
    grad = _grad(model, x)
    moved = _batched(lambda t: _grad(model, t), [_act(t_in, g, x) for g in exact])
    assert max(_rel(m, _act(t_in, g, grad)) for m, g in zip(moved, exact, strict=True)) <= EXACT


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if not e.correct))
def test_fault_breaks_the_grid_exact_rotations_in_its_layer(name):
    entry = ZOO[name]
    model, x, G = _setup(name)
    t_in, t_out, hidden = model.in_type, _out_type(model), model.hidden
    elements = _grid_exact(G)
    with torch.no_grad():
        y = model(x)
        moved = _batched(model, [_act(t_in, g, x) for g in elements])
        assert (
            max(_rel(m, _act(t_out, g, y)) for m, g in zip(moved, elements, strict=True)) > BROKEN
        )
    assert entry.fault_layer == "middle"  # a torch module on the tensor of ``hidden`` fields
    module, h, out = _capture(model, x, entry.fault_layer)
    input_errors, layer_errors = [], []
    _, h_moved, _ = _capture(model, torch.cat([_act(t_in, g, x) for g in elements]), "middle")
    with torch.no_grad():
        out_moved = _batched(module, [_act(hidden, g, h) for g in elements])
    for g, hm, om in zip(elements, h_moved.split(h.shape[0]), out_moved, strict=True):
        input_errors.append(_rel(hm, _act(hidden, g, h)))
        layer_errors.append(_rel(om, _act(hidden, g, out)))
    assert max(input_errors) <= EXACT, "something upstream of the fault is broken"
    assert max(layer_errors) > BROKEN


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if not e.correct))
def test_the_fault_is_what_its_kind_says(name):
    """ReLU breaks the irrep fields but commutes with a permutation of the channels; a plain
    batch norm, made to share its statistics and weights within each field, is equivariant."""
    entry = ZOO[name]
    model, x, G = _setup(name)
    module, h, out = _capture(model, x, "middle")
    hidden = model.hidden
    g = _grid_exact(G)[0]
    if entry.finding_kind == "nonlinearity":
        assert isinstance(module, torch.nn.ReLU)
        perm = torch.randperm(h.shape[1], generator=torch.Generator().manual_seed(0))
        assert torch.equal(module(h[:, perm]), out[:, perm])  # pointwise: fine on permutations
        return
    assert entry.finding_kind == "normalization"
    assert isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
    shared = type(module)(module.num_features).eval()
    with torch.no_grad():  # one scale per field; no shift (only trivial irreps could take one)
        scale = torch.ones(module.num_features)
        for start, field in zip(hidden.fields_start, hidden.representations, strict=True):
            scale[int(start) : int(start) + field.size] = 0.5 + int(start) / module.num_features
        shared.weight.copy_(scale)
        shared.bias.zero_()
        shared.running_mean.zero_()
        shared.running_var.fill_(1.0 - shared.eps)
        assert _rel(shared(_act(hidden, g, h)), _act(hidden, g, shared(h))) <= EXACT
        assert _rel(module(_act(hidden, g, h)), _act(hidden, g, module(h))) > BROKEN


@pytest.mark.parametrize("name", sorted(ZOO))
def test_entry_is_well_formed_and_deterministic(name):
    entry = ZOO[name]
    assert entry.name == name and entry.note and "\n" not in entry.note
    assert entry.correct == (entry.expected_verdict == "PASS") == (entry.finding_kind is None)
    model, _, x = entry.build(0)
    again, _, x_again = entry.build(0)
    assert not model.training
    assert entry.correct or entry.fault_layer in dict(model.named_modules())
    assert torch.equal(x, x_again)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_escnn_field_types_are_the_ones_the_entries_declare():
    """The hidden type the faults sit in holds irreps of frequency / degree 1 (not only
    scalars): what makes ReLU and per-component statistics wrong there."""
    enn = escnn_nn()
    for name in ("relu_on_so2_irreps", "relu_on_so3_irreps"):
        model, _, _ = ZOO[name].build(0)
        assert isinstance(model.hidden, enn.FieldType)
        irreps = {irrep for rep in model.hidden.representations for irrep in rep.irreps}
        assert any(irrep != model.hidden.fibergroup.trivial_representation.id for irrep in irreps)
