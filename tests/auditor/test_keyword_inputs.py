"""Layers called with tensors as keyword arguments (``conv(x, edge_index=...)``,
``layer(h, weight=...)``) are tested alone like those called positionally: the fault after
them is named, and they themselves are in the layer-wise results."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GINConv

import equidesign as eqd


class Weighted(nn.Module):
    """h scaled by a per-node weight given by keyword."""

    def forward(self, h, weight=None):
        return h * weight


class WeightedWithIndex(Weighted):
    """A planted fault: also adds the node's index (no permutation moves it)."""

    def forward(self, h, weight=None):
        index = torch.arange(h.shape[0], dtype=h.dtype, device=h.device)[:, None]
        return h * weight + 0.1 * index


class Net(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.conv = GINConv(nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8)))
        self.layer = layer
        self.head = nn.Linear(8, 2)

    def forward(self, batch):
        h = self.conv(batch.x, edge_index=batch.edge_index)
        h = self.layer(h, weight=torch.sigmoid(batch.x[:, :1]))
        return self.head(h)


def _graphs() -> Batch:
    gen = torch.Generator().manual_seed(0)
    graphs = []
    for n in (5, 6):
        a = torch.rand(n, n, generator=gen) < 0.5
        a = (a | a.T).fill_diagonal_(False)
        graphs.append(Data(x=torch.randn(n, 3, generator=gen), edge_index=a.nonzero().T))
    return Batch.from_data_list(graphs)


def test_layers_called_with_keyword_tensors_are_tested():
    report = eqd.audit(Net(Weighted()), eqd.Symmetry.graphs(node_level=True), inputs=_graphs())
    assert report.verdict == "PASS", report.to_text()
    tested = {layer.name for layer in report.layers}
    assert {"conv", "layer"} <= tested, tested
    assert not any("keyword" in u.reason for u in report.untested)


def test_a_fault_in_a_layer_called_with_keywords_is_named():
    report = eqd.audit(
        Net(WeightedWithIndex()), eqd.Symmetry.graphs(node_level=True), inputs=_graphs()
    )
    assert report.verdict == "FAIL"
    assert report.first_failing_layer == "layer", report.to_text()


def test_a_chunked_audit_of_a_graph_model_passes_as_the_batched_one():
    """One copy per pass (chunk=, and the element-by-element passes of a batch-dependent model):
    the edge index keeps its relabelling and a scatter's target indices are relabelled."""
    x = _graphs()
    for chunk in (None, x.num_graphs):
        report = eqd.audit(Net(Weighted()), eqd.Symmetry.graphs(node_level=True), x, chunk=chunk)
        assert report.verdict == "PASS", (chunk, report.to_text())
        assert all(layer.passed for layer in report.layers)
