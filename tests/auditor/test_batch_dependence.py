"""The batch check: a sample alone against the same sample inside the audit's batched pass.

Planted: statistics over the batch in eval mode, a buffer sized to one batch (the batched pass
raises), and e3nn's own example network whose ``torch.cdist`` switches algorithm beyond 25
points. Each is named a batch dependence, the size at which it starts is given where it can be
found, and the equivariance verdict comes from element-by-element passes. A model that reads
nothing across the batch gets an 'ok'."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd

from .models import d4_mlp


def _vector_symmetry():
    return eqd.Symmetry.vectors("C4", "regular", "regular")


class BatchCentred(torch.nn.Module):
    """x - mean over the batch: equivariant per pass, but a sample's output depends on the rest."""

    def forward(self, x):
        return x - x.mean(0, keepdim=True)


class FixedBatch(torch.nn.Module):
    """A buffer made for a batch of 4: any other batch size raises."""

    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.zeros(4, 1))

    def forward(self, x):
        return torch.tanh(x) + self.offset


def _check(report):
    return next(c for c in report.self_checks if c.name == "batch")


def test_a_model_that_reads_nothing_across_the_batch_is_ok():
    report = eqd.audit(d4_mlp(), eqd.Symmetry.vectors("D4", "2 x regular", "trivial"))
    check = _check(report)
    assert check.passed and "matches" in check.detail
    assert not [f for f in report.findings if f.kind == "batch_dependence"]


def test_statistics_over_the_batch_are_named_and_the_verdict_comes_from_single_passes():
    report = eqd.audit(BatchCentred(), _vector_symmetry(), gradients=False)
    check = _check(report)
    assert not check.passed
    # x, the identity's copy (the same mean) and the first rotation's: the mean moves
    assert "it starts at 3 copies in one pass (12 samples)" in check.detail
    assert report.end_to_end.passed  # each copy alone: g x - mean(g x) = g (x - mean x)
    assert report.verdict == "NEEDS_ATTENTION"
    finding = next(f for f in report.findings if f.kind == "batch_dependence")
    assert finding.location == "model"


def test_a_batched_pass_that_raises_where_a_single_one_does_not():
    report = eqd.audit(FixedBatch(), _vector_symmetry(), gradients=False)
    check = _check(report)
    assert not check.passed and "raised" in check.detail
    assert report.end_to_end.passed
    assert report.verdict == "NEEDS_ATTENTION"


def test_a_model_that_raises_alone_too_is_a_user_error():
    from equidesign.errors import UserCodeError

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise ValueError("no")

    with pytest.raises(UserCodeError, match="no"):
        eqd.audit(Broken(), _vector_symmetry())


def test_e3nn_gate_points_2101_beyond_25_points():
    from e3nn.nn.models.gate_points_2101 import Network
    from torch_geometric.data import Batch, Data

    net = Network(
        irreps_in="2x0e",
        irreps_hidden="8x0e+8x0o+4x1e+4x1o",
        irreps_out="1x1o",
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
            self.net = net

        def forward(self, b):
            return self.net({"pos": b.pos, "x": b.x, "batch": b.batch})

    gen = torch.Generator().manual_seed(0)
    x = Batch.from_data_list(
        [Data(pos=torch.randn(5, 3, generator=gen), x=torch.randn(5, 2, generator=gen))] * 2
    )
    sym = eqd.Symmetry.point_clouds("2x0e", "1x1o", group="E3 x Sn", node_level=True)
    report = eqd.audit(OnBatch(), sym, inputs=x, lie_derivative=False)
    check = _check(report)
    assert not check.passed
    assert "it starts at 3 copies in one pass (30 nodes)" in check.detail  # cdist: > 25 points
    assert report.end_to_end.passed, report.to_text()
    assert report.verdict == "NEEDS_ATTENTION"
    assert "cdist" in next(f for f in report.findings if f.kind == "batch_dependence").fix


def test_chunk_is_honoured_by_the_float64_reruns():
    """A broken model's float64 gradient re-run takes at most chunk samples per pass."""
    sizes = []

    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            sizes.append((x.shape[0], x.dtype))
            return self.lin(x)

    eqd.audit(Broken(), _vector_symmetry(), chunk=8, layerwise=False)
    assert any(dtype == torch.float64 for _, dtype in sizes)  # the re-runs ran
    assert max(n for n, _ in sizes) <= 8
