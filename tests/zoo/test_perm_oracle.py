"""The set and graph zoos checked without equidesign's auditor: plain index permutations.

A set ``(B, N, C)`` is reordered by ``x[:, p]`` for every one of the N! permutations ``p``; a
PyG batch by seeded random permutations within each graph (node features ``x[p]``, edges
relabelled through the inverse permutation). A correct model is invariant or equivariant (the
output reordered the same way) to float32 round-off, in its outputs and in its input
gradients. A planted fault is real and sits where its entry says: the fault layer's input,
captured with a forward hook, moves with the elements (nothing upstream is broken), and the
layer alone, fed that input reordered, does not return what its place in the model requires
(the reordered output, or the same one after the pooling).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from . import ZOO as _ALL

FAMILIES = ("sets", "graphs")
ZOO = {n: e for n, e in _ALL.items() if e.build.__module__.rsplit(".", 1)[-1] in FAMILIES}
EXACT = 1e-5
BROKEN = 1e-2

#: what each fault layer's output is, where the layer sits: one value per set, or per element
LAYER_OUT = {"readout": "invariant", "pe": "elements"}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


class Sets:
    """``(B, N, C)`` tensors; every non-identity permutation of the N elements."""

    axis = 1

    @staticmethod
    def elements(x) -> list[torch.Tensor]:
        n = x.shape[1]
        return [torch.tensor(p) for p in itertools.permutations(range(n)) if list(p) != sorted(p)]

    @staticmethod
    def move(x, p):
        return x[:, p]

    @staticmethod
    def features(x):
        return x

    @staticmethod
    def with_features(x, features):
        return features

    @staticmethod
    def outputs(fn, x, perms) -> list[torch.Tensor]:
        """fn on every reordered copy, in one batch: ``(G * B, N, C)``."""
        copies = torch.stack([x[:, p] for p in perms])
        return list(fn(copies.flatten(0, 1)).unflatten(0, copies.shape[:2]))


class Graphs:
    """PyG batches; six seeded permutations of the nodes within each graph."""

    axis = 0

    @staticmethod
    def elements(batch) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        ptr = batch.ptr.tolist()
        return [
            torch.cat(
                [
                    a + torch.randperm(b - a, generator=gen)
                    for a, b in zip(ptr[:-1], ptr[1:], strict=True)
                ]
            )
            for _ in range(6)
        ]

    @staticmethod
    def move(batch, p):
        """New node i is old node p[i]: features reordered, edges renamed by the inverse."""
        moved = batch.clone()
        inverse = torch.empty_like(p)
        inverse[p] = torch.arange(p.numel())
        moved.x = batch.x[p]
        moved.edge_index = inverse[batch.edge_index]
        assert torch.equal(moved.batch, batch.batch[p])  # each node stays in its graph
        return moved

    @staticmethod
    def features(batch):
        return batch.x

    @staticmethod
    def with_features(batch, features):
        moved = batch.clone()
        moved.x = features
        return moved

    @staticmethod
    def outputs(fn, batch, perms) -> list[torch.Tensor]:
        return [fn(Graphs.move(batch, p)) for p in perms]


def _domain(entry):
    return Sets if entry.build.__module__.endswith(".sets") else Graphs


def _move_out(domain, t: torch.Tensor, p: torch.Tensor, out: str) -> torch.Tensor:
    return t if out == "invariant" else t.index_select(domain.axis, p)


def _out(sym) -> str:
    return "invariant" if sym.out_action.is_trivial else "elements"


def _capture(model, x, name):
    """The layer ``name``, its positional inputs and its output when the model runs on ``x``."""
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


def _grad(domain, model, x):
    """d/d(features) of 0.5 |f|^2, invariant under reorderings of the output."""
    leaf = domain.features(x).clone().requires_grad_(True)
    return torch.autograd.grad(0.5 * (model(domain.with_features(x, leaf)) ** 2).sum(), leaf)[0]


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if e.correct))
def test_correct_models_are_invariant_or_equivariant(name):
    entry = ZOO[name]
    domain = _domain(entry)
    model, sym, x = entry.build(0)
    out, perms = _out(sym), domain.elements(x)
    with torch.no_grad():
        y = model(x)
        moved = domain.outputs(model, x, perms)
    assert (
        max(_rel(m, _move_out(domain, y, p, out)) for m, p in zip(moved, perms, strict=True))
        <= EXACT
    )
    grad = _grad(domain, model, x)  # reordering the elements reorders the gradient
    moved = domain.outputs(lambda t: _grad(domain, model, t), x, perms)
    assert (
        max(_rel(m, grad.index_select(domain.axis, p)) for m, p in zip(moved, perms, strict=True))
        <= EXACT
    )


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if not e.correct))
def test_fault_is_real_and_sits_in_its_layer(name):
    entry = ZOO[name]
    domain = _domain(entry)
    model, sym, x = entry.build(0)
    perms = domain.elements(x)
    with torch.no_grad():
        y = model(x)
        moved = domain.outputs(model, x, perms)
    e2e = [_rel(m, _move_out(domain, y, p, _out(sym))) for m, p in zip(moved, perms, strict=True)]
    assert max(e2e) > BROKEN
    module, args, out = _capture(model, x, entry.fault_layer)
    h, rest = args[0], args[1:]  # rest: the graph of each node (unchanged by these perms)
    input_errors, layer_errors = [], []
    for p in perms:
        _, moved_args, _ = _capture(model, domain.move(x, p), entry.fault_layer)
        input_errors.append(_rel(moved_args[0], h.index_select(domain.axis, p)))
        with torch.no_grad():
            moved_out = module(h.index_select(domain.axis, p), *rest)
        expected = _move_out(domain, out, p, LAYER_OUT[entry.fault_layer])
        layer_errors.append(_rel(moved_out, expected))
    assert max(input_errors) <= EXACT, "something upstream of the fault is broken"
    assert max(layer_errors) > BROKEN


@pytest.mark.parametrize("name", sorted(ZOO))
def test_entry_is_well_formed_and_deterministic(name):
    entry = ZOO[name]
    domain = _domain(entry)
    assert entry.name == name and entry.note and "\n" not in entry.note
    assert entry.correct == (entry.expected_verdict == "PASS") == (entry.finding_kind is None)
    model, _, x = entry.build(0)
    again, _, x_again = entry.build(0)
    assert not model.training
    assert entry.correct or entry.fault_layer in dict(model.named_modules())
    assert torch.equal(domain.features(x), domain.features(x_again))
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def _second_copy_error(model, x) -> float:
    """The outputs of the batch's graphs when the same graphs come first, against alone."""
    from torch_geometric.data import Batch

    with torch.no_grad():
        y, twice = model(x), model(Batch.from_data_list(x.to_data_list() * 2))
    return _rel(twice[len(y) :], y)


def test_a_global_node_index_makes_outputs_depend_on_the_batch():
    """torch.arange over the batch: the same graph, behind others, gives another output -- why
    the audit's identity self-check fails on it (the audit runs its copies as one batch)."""
    from .graphs import GlobalNodeIndex, NodeIndexEncoding, build_gin

    model, _, x = build_gin(0, pe=GlobalNodeIndex())
    assert _second_copy_error(model, x) > BROKEN
    model, _, x = build_gin(0, pe=NodeIndexEncoding())
    assert _second_copy_error(model, x) <= EXACT  # an index within each graph: no dependence
