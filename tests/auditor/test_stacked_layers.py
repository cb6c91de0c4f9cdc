"""Layers with several inputs are tested on all transformed copies in one call, stacked as PyG
stacks graphs; a layer whose rows depend on the rows before them (a running sum) must be caught
by the two unmoved copies that frame the stack, and tested element by element instead."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import scatter

import equidesign as eqd
from equidesign.auditor import layerwise

NODES = (6, 7)


def _clouds(batch: int, gen: torch.Generator) -> Batch:
    graphs = []
    for b in range(batch):
        n = NODES[b % len(NODES)]
        pos = torch.randn(n, 3, generator=gen)
        src = torch.arange(n).repeat_interleave(n - 1)
        dst = torch.tensor([j for i in range(n) for j in range(n) if j != i])
        graphs.append(Data(pos=pos, edge_index=torch.stack([src, dst])))
    return Batch.from_data_list(graphs)


class Distances(torch.nn.Module):
    """Per node: the summed distances to its neighbours (invariant under rigid motions)."""

    out_action = "invariant"

    def forward(self, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        src, dst = edge_index
        lengths = (pos[src] - pos[dst]).norm(dim=1, keepdim=True)
        return scatter(lengths, dst, dim=0, dim_size=pos.shape[0], reduce="sum")


class CumulativeDistances(torch.nn.Module):
    """Fault: a running sum over the nodes in their order (not a function of the cloud)."""

    out_action = "invariant"

    def forward(self, pos: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return Distances()(pos, edge_index).cumsum(dim=0)


class Model(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module):
        super().__init__()
        self.layer = layer
        self.head = torch.nn.Linear(1, 1)

    def forward(self, data) -> torch.Tensor:
        h = self.layer(data.pos, data.edge_index)
        return scatter(self.head(h), data.batch, dim=0, reduce="sum")


def _audit(layer: torch.nn.Module, permutations: bool = False):
    sym = eqd.Symmetry.point_clouds(
        None, "invariant", group="SE3", permutations=permutations, example=_clouds
    )
    layer.in_action = sym.io.node_actions["pos"]
    return eqd.audit(Model(layer).eval(), sym, gradients=False, lie_derivative=False)


def _spy(monkeypatch) -> list:
    """Record, per call of the stacked path, the layer and whether stacking was used."""
    calls = []
    original = layerwise._stacked_call

    def spy(test, elements):
        out = original(test, elements)
        calls.append((test.name, out is not None))
        return out

    monkeypatch.setattr(layerwise, "_stacked_call", spy)
    return calls


def test_message_passing_layer_is_tested_on_stacked_copies(monkeypatch):
    calls = _spy(monkeypatch)
    report = _audit(Distances())
    assert report.verdict == "PASS", report.to_text()
    assert ("layer", True) in calls
    assert next(t for t in report.layers if t.name == "layer").level.value == "perfect"


def test_stacked_copies_measure_what_one_call_per_element_measures(monkeypatch):
    stacked = _audit(Distances())
    monkeypatch.setattr(layerwise, "_stacked_call", lambda test, elements: None)
    looped = _audit(Distances())
    a, b = (next(t for t in r.layers if t.name == "layer") for r in (stacked, looped))
    assert b.max_rel < 1e-6 and abs(a.max_rel - b.max_rel) < 1e-6


def test_order_dependent_layer_fails_alone_whether_stacked_or_not(monkeypatch):
    calls = _spy(monkeypatch)
    report = _audit(CumulativeDistances(), permutations=True)
    assert ("layer", False) in calls  # the last unmoved copy sees the other copies' sums
    assert report.verdict == "FAIL"
    assert report.first_failing_layer == "layer", report.to_text()
