"""The point-cloud zoo checked without equidesign's auditor: e3nn's own Wigner matrices.

Everything runs in float64 (model and clouds), with e3nn's ``Irreps.D_from_matrix`` for the
irreps and plain tensor operations for rigid motions and node permutations within each graph.
A correct model is equivariant to round-off, in its outputs and (graph-level energies) in its
forces ``-dE/dpos``. A planted fault is real, and sits where its entry says: the fault layer's
input is equivariant (nothing upstream is broken) and the layer alone breaks in the way its
kind says: on translations only, on reflections only, on reorderings only, or on rotations.
"""

from __future__ import annotations

import pytest
import torch
from e3nn import o3
from torch_geometric.data import Batch

from . import ZOO as _ALL
from .points import HIDDEN, IRREPS_IN, PRE_GATE

ZOO = {n: e for n, e in _ALL.items() if e.build.__module__.endswith(".points")}
ROUND_OFF = 1e-9
BROKEN = 1e-2

#: the irreps flowing into and out of each fault layer
LAYER_IRREPS = {
    "act.relu": (HIDDEN, HIDDEN),
    "extra": (HIDDEN, HIDDEN),
    "edges": ("positions", "1x1o"),
}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


class Motion:
    """p -> R p + t, then new node i = old node perm[i] (within each graph)."""

    def __init__(self, R, t, perm=None):
        self.R, self.t, self.perm = R, t, perm

    def features(self, irreps: str, x: torch.Tensor, nodes: bool = True) -> torch.Tensor:
        if irreps == "positions":
            out = x @ self.R.T + self.t
        else:
            out = x @ o3.Irreps(irreps).D_from_matrix(self.R).T
        return out[self.perm] if nodes and self.perm is not None else out

    def cloud(self, batch: Batch) -> Batch:
        moved = batch.clone()
        moved.pos = self.features("positions", batch.pos)
        moved.x = self.features(IRREPS_IN, batch.x)
        return moved


def _motions(batch: Batch, seed: int = 0) -> dict[str, list[Motion]]:
    """Rotations, reflections, translations and node permutations, seeded, float64."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    zero = torch.zeros(3, dtype=torch.float64)

    def perm():
        parts = [
            start + torch.randperm(int(end - start), generator=gen)
            for start, end in zip(batch.ptr[:-1], batch.ptr[1:], strict=True)
        ]
        return torch.cat(parts)

    eye = torch.eye(3, dtype=torch.float64)
    rotations = [Motion(o3.rand_matrix().double(), zero) for _ in range(3)]
    return {
        "rotations": rotations,
        "reflections": [Motion(-m.R, zero) for m in rotations],
        "translations": [
            Motion(eye, torch.randn(3, generator=gen, dtype=torch.float64)) for _ in range(2)
        ],
        "permutations": [Motion(eye, zero, perm()) for _ in range(2)],
    }


def _setup(name):
    """The entry built with float64 as torch's default: e3nn computes its Clebsch-Gordan
    coefficients and Wigner matrices in the default dtype (float32 ones are ~1e-7 accurate)."""
    entry = ZOO[name]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model, sym, x = entry.build(0)
    finally:
        torch.set_default_dtype(default)
    assert x.pos.dtype == torch.float64
    return entry, model, sym, x


def _output(model, motion: Motion, y: torch.Tensor) -> torch.Tensor:
    if model.node_level:
        return motion.features(str(model.irreps_out), y)
    return y  # a sum per graph: invariant


@pytest.fixture(autouse=True)
def _float64():
    """e3nn's D_from_matrix in float64 too (see _setup)."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(default)


def _e2e(model, x, motions) -> float:
    with torch.no_grad():
        y = model(x)
        return max(_rel(model(m.cloud(x)), _output(model, m, y)) for m in motions)


def _capture(model, x, name):
    module = dict(model.named_modules())[name]
    seen = {}

    def hook(_m, args, out):
        seen["args"], seen["out"] = args, out

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return module, seen["args"], seen["out"]


def _layer_errors(model, x, name, motions) -> tuple[float, float]:
    """(input error, layer error): is the layer's input equivariant in the model, and is the
    layer alone equivariant on it? Node-level tensors move with the nodes."""
    irreps_in, irreps_out = LAYER_IRREPS[name]
    module, args, out = _capture(model, x, name)
    h = args[0]
    input_err, layer_err = 0.0, 0.0
    for m in motions:
        _, moved_args, _ = _capture(model, m.cloud(x), name)
        if name == "edges":  # (pos, edge_index): the recorded edges, positions moved
            if m.perm is not None:
                continue
            input_err = max(input_err, _rel(moved_args[0], m.features("positions", h)))
            with torch.no_grad():
                moved_out = module(m.features("positions", h), args[1])
            layer_err = max(layer_err, _rel(moved_out, m.features(irreps_out, out, nodes=False)))
            continue
        input_err = max(input_err, _rel(moved_args[0], m.features(irreps_in, h)))
        with torch.no_grad():
            moved_out = module(m.features(irreps_in, h))
        layer_err = max(layer_err, _rel(moved_out, m.features(irreps_out, out)))
    return input_err, layer_err


def _forces(model, x: Batch) -> torch.Tensor:
    pos = x.pos.clone().requires_grad_(True)
    moved = x.clone()
    moved.pos = pos
    return -torch.autograd.grad(model(moved).sum(), pos)[0]


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if e.correct))
def test_correct_models_are_equivariant_in_float64(name):
    _, model, _, x = _setup(name)
    motions = [m for group in _motions(x).values() for m in group]
    assert _e2e(model, x, motions) <= ROUND_OFF
    if not model.node_level:  # energies: the forces rotate with the cloud
        f = _forces(model, x)
        for m in motions:
            assert _rel(_forces(model, m.cloud(x)), m.features("1x1o", f)) <= ROUND_OFF


#: the motions that break each kind of fault, and those that do not
BREAKS = {
    "nonlinearity": ("rotations", None),
    "custom_layer": ("rotations", None),
    "unconstrained_layer": ("rotations", None),
    "translation": ("translations", "rotations"),
    "parity": ("reflections", "rotations"),
    "permutation": ("permutations", "rotations"),
}


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if not e.correct))
def test_fault_is_real_and_sits_in_its_layer(name):
    entry, model, _, x = _setup(name)
    motions = _motions(x)
    breaking, sparing = BREAKS[entry.finding_kind]
    assert _e2e(model, x, motions[breaking]) > BROKEN
    input_err, layer_err = _layer_errors(model, x, entry.fault_layer, motions[breaking])
    assert input_err <= ROUND_OFF, "something upstream of the fault is broken"
    assert layer_err > BROKEN
    if sparing is not None:  # and only in the way its kind says
        assert _e2e(model, x, motions[sparing]) <= ROUND_OFF
        assert _layer_errors(model, x, entry.fault_layer, motions[sparing])[1] <= ROUND_OFF


def test_pre_gate_layout_matches_the_gate():
    """IrrepsReLU drops the gates by position: the layout it assumes is the gate's."""
    assert o3.Irreps(PRE_GATE).dim - o3.Irreps(HIDDEN).dim == 3


@pytest.mark.parametrize("name", sorted(ZOO))
def test_entry_is_well_formed_and_deterministic(name):
    entry = ZOO[name]
    assert entry.note and "\n" not in entry.note
    assert entry.correct == (entry.expected_verdict == "PASS") == (entry.finding_kind is None)
    model, _, x = entry.build(0)
    again, _, x_again = entry.build(0)
    assert not model.training
    assert entry.correct or entry.fault_layer in dict(model.named_modules())
    assert torch.equal(x.pos, x_again.pos) and torch.equal(x.x, x_again.x)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
