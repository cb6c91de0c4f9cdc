"""PyG's models, small and with random weights: SchNet, DimeNet++ and ViSNet on molecules
(atom types in ``data.z``, which must move with the atoms), GIN/GAT/GraphSAGE on graphs.

torch-cluster, torch-sparse and pyg-lib have no CPU wheels for torch 2.13: the radius graph and
DimeNet's triplets are computed densely here (the same edges and triplets; the models' own code
is unchanged)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import models as pyg_models

import equidesign as eqd

from ._graphs import ReLUAfter, molecules, radius_edges
from ._models import OnAtoms, schnet

CUTOFF = 4.0


def _radius_graph(x, r, batch=None, loop=False, max_num_neighbors=32, **kwargs):
    batch = torch.zeros(x.shape[0], dtype=torch.long) if batch is None else batch
    return radius_edges(x, batch, r)


def _triplets(edge_index, num_nodes):
    """DimeNet's triplets k->j->i (k != i) without torch-sparse."""
    row, col = edge_index  # j -> i
    pairs = (col[None, :] == row[:, None]).nonzero()  # (e_ji, e_kj): edge kj ends where ji starts
    e_ji, e_kj = pairs[:, 0], pairs[:, 1]
    idx_i, idx_j, idx_k = col[e_ji], row[e_ji], row[e_kj]
    keep = idx_i != idx_k
    return col, row, idx_i[keep], idx_j[keep], idx_k[keep], e_kj[keep], e_ji[keep]


@pytest.fixture
def dense_graphs(monkeypatch):
    from torch_geometric.nn.models import dimenet, visnet

    monkeypatch.setattr(dimenet, "radius_graph", _radius_graph)
    monkeypatch.setattr(dimenet, "triplets", _triplets)
    monkeypatch.setattr(visnet, "radius_graph", _radius_graph)


def _atoms():
    batch = molecules(3, 6, types=5)
    batch.z = batch.z + 1  # atomic numbers
    return batch


def _energy_symmetry():
    return eqd.Symmetry.point_clouds(None, "invariant", group="E3 x Sn", forces=True)


def _schnet():
    return schnet(CUTOFF)


def test_schnet_passes_with_atom_types_moved_with_the_atoms():
    report = eqd.audit(OnAtoms(_schnet()), _energy_symmetry(), inputs=_atoms())
    assert report.verdict == "PASS", report.to_text()
    assert report.forces is not None and report.forces.passed
    assert report.gradient is not None and report.gradient.passed


def test_schnet_with_a_node_index_planted_in_its_embedding_fails():
    """A learned per-position term (the node's index in the batch) breaks permutations."""
    net = _schnet()
    handle = net.embedding.register_forward_hook(
        lambda m, a, out: out + 0.1 * torch.arange(out.shape[0], dtype=out.dtype)[:, None]
    )
    try:
        report = eqd.audit(OnAtoms(net), _energy_symmetry(), inputs=_atoms())
    finally:
        handle.remove()
    assert report.verdict == "FAIL", report.to_text()


def test_dimenet_plus_plus_passes(dense_graphs):
    net = pyg_models.DimeNetPlusPlus(
        hidden_channels=16,
        out_channels=1,
        num_blocks=2,
        int_emb_size=8,
        basis_emb_size=4,
        out_emb_channels=16,
        num_spherical=3,
        num_radial=4,
        cutoff=CUTOFF,
        output_initializer="glorot_orthogonal",
    )
    report = eqd.audit(OnAtoms(net), _energy_symmetry(), inputs=_atoms())
    assert report.verdict == "PASS", report.to_text()
    assert report.forces is not None and report.forces.passed


def _visnet(derivative=False):
    return pyg_models.ViSNet(
        lmax=1,
        num_heads=2,
        num_layers=2,
        hidden_channels=16,
        num_rbf=8,
        cutoff=CUTOFF,
        max_z=10,
        derivative=derivative,
    )


def test_visnet_energy_passes(dense_graphs):
    report = eqd.audit(OnAtoms(_visnet(), part=0), _energy_symmetry(), inputs=_atoms())
    assert report.verdict == "PASS", report.to_text()


def test_visnet_own_forces_pass(dense_graphs):
    """ViSNet(derivative=True) returns -dE/dpos from `grad` it imported by name."""
    sym = eqd.Symmetry.point_clouds(None, "1o", group="E3 x Sn", node_level=True)
    report = eqd.audit(OnAtoms(_visnet(True), part=1), sym, inputs=_atoms())
    assert report.verdict == "PASS", report.to_text()
    assert report.lie_derivative is not None


class VectorsOf(torch.nn.Module):
    """Per-atom vectors of ViSNet's representation (its equivariant vec features)."""

    def __init__(self):
        super().__init__()
        self.net = _visnet()

    def forward(self, batch):
        x, vec = self.net.representation_model(batch.z, batch.pos, batch.batch)
        return vec.transpose(1, 2).reshape(vec.shape[0], -1)  # (N, C x 3): C vectors


def test_visnet_per_atom_vectors_pass(dense_graphs):
    sym = eqd.Symmetry.point_clouds(None, "16x1o", group="E3 x Sn", node_level=True)
    report = eqd.audit(VectorsOf(), sym, inputs=_atoms(), lie_derivative=False)
    assert report.verdict == "PASS", report.to_text()


# ------------------------------------------------------------------------- graph networks
def _graphs(n=3, nodes=7, channels=4, seed=0) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        a = torch.rand(nodes, nodes, generator=gen) < 0.4
        a = (a | a.T).fill_diagonal_(False)
        out.append(Data(x=torch.randn(nodes, channels, generator=gen), edge_index=a.nonzero().T))
    return Batch.from_data_list(out)


class Pooled(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, batch):
        from torch_geometric.nn import global_add_pool

        return global_add_pool(self.net(batch.x, batch.edge_index), batch.batch)


class NodeLevel(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, batch):
        return self.net(batch.x, batch.edge_index)


GNNS = {
    "GIN": lambda: pyg_models.GIN(4, 16, num_layers=2, out_channels=3),
    "GAT": lambda: pyg_models.GAT(4, 16, num_layers=2, out_channels=3, heads=2),
    "GraphSAGE": lambda: pyg_models.GraphSAGE(4, 16, num_layers=2, out_channels=3),
}


@pytest.mark.parametrize("name", sorted(GNNS))
@pytest.mark.parametrize("level", ["node", "graph"])
def test_graph_networks_pass(name, level):
    net = GNNS[name]()
    model = NodeLevel(net) if level == "node" else Pooled(net)
    sym = eqd.Symmetry.graphs(node_level=level == "node")
    report = eqd.audit(model, sym, inputs=_graphs())
    assert report.verdict == "PASS", report.to_text()


def test_relu_planted_in_schnet_is_harmless_and_said_so():
    """SchNet's features are invariant: a ReLU after a layer changes nothing the group sees."""
    net = _schnet()
    fault = ReLUAfter(net.interactions[0].lin)
    try:
        report = eqd.audit(OnAtoms(net), _energy_symmetry(), inputs=_atoms())
    finally:
        fault.remove()
    assert report.verdict == "PASS", report.to_text()
