"""e3nn's own example networks (``e3nn.nn.models``), small and with random weights: they PASS,
and a planted fault (ReLU after a gate, on its vectors) FAILs at its ``named_modules()`` path.

Their radius graph is ``torch.cdist``-based, which switches algorithm beyond 25 points in one
pass: these audits take one copy per pass (``chunk=``), which a user of these networks would
do, and tests/auditor/test_batch_dependence.py shows what the batched audit says."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

import equidesign as eqd

from ._graphs import ReLUAfter

gate_points = pytest.importorskip("e3nn.nn.models.gate_points_2101")

IRREPS_OUT = "1x1o"


def _network():
    torch.manual_seed(0)
    return gate_points.Network(
        irreps_in="2x0e",
        irreps_hidden="8x0e+8x0o+4x1e+4x1o",
        irreps_out=IRREPS_OUT,
        irreps_node_attr=None,
        irreps_edge_attr="0e+1o+2e",
        layers=2,
        max_radius=2.5,
        number_of_basis=8,
        radial_layers=1,
        radial_neurons=16,
        num_neighbors=4,
        num_nodes=6,
        reduce_output=False,
    )


class OnBatch(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = _network()

    def forward(self, batch):
        return self.net({"pos": batch.pos, "x": batch.x, "batch": batch.batch})


def _clouds() -> Batch:
    gen = torch.Generator().manual_seed(0)
    return Batch.from_data_list(
        [
            Data(pos=torch.randn(5, 3, generator=gen), x=torch.randn(5, 2, generator=gen))
            for _ in range(2)
        ]
    )


def _symmetry():
    return eqd.Symmetry.point_clouds("2x0e", IRREPS_OUT, group="E3 x Sn", node_level=True)


def test_gate_points_network_passes():
    x = _clouds()
    report = eqd.audit(OnBatch(), _symmetry(), inputs=x, chunk=x.num_graphs)
    assert report.verdict == "PASS", report.to_text()
    assert report.lie_derivative is not None


def test_relu_planted_after_a_gate_fails_at_its_path():
    x = _clouds()
    model = OnBatch()
    fault = ReLUAfter(model.net.layers[0].second)
    try:
        report = eqd.audit(model, _symmetry(), inputs=x, chunk=x.num_graphs, lie_derivative=False)
    finally:
        fault.remove()
    assert report.verdict == "FAIL"
    assert report.first_failing_layer == "net.layers.0.second", report.to_text()
