"""Small molecules as PyG batches, and graph construction that needs no torch-cluster/pyg-lib
(they have no CPU wheels for torch 2.13): every pair within a cutoff, from dense distances."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data


def molecules(n_graphs: int = 3, atoms: int = 5, types: int = 3, seed: int = 0) -> Batch:
    """Random molecules: ``pos`` (spread ~1.2), atom types ``z`` in ``[0, types)`` and their
    one-hot ``x``."""
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for _ in range(n_graphs):
        z = torch.randint(0, types, (atoms,), generator=gen)
        pos = torch.randn(atoms, 3, generator=gen) * 1.2
        graphs.append(Data(pos=pos, z=z, x=torch.nn.functional.one_hot(z, types).float()))
    return Batch.from_data_list(graphs)


def radius_edges(pos: torch.Tensor, batch: torch.Tensor, r: float) -> torch.Tensor:
    """``edge_index`` of every ordered pair of distinct atoms of one graph closer than ``r``.

    Distances within each graph only (graphs padded to the largest): the cost grows with the
    number of graphs, as torch-cluster's does, not with its square.
    """
    from torch_geometric.utils import to_dense_batch

    dense, mask = to_dense_batch(pos, batch)  # (B, M, 3), (B, M)
    dist2 = (dense[:, :, None, :] - dense[:, None, :, :]).pow(2).sum(-1)
    near = (dist2 < r * r) & mask[:, :, None] & mask[:, None, :]
    near &= ~torch.eye(dense.shape[1], dtype=torch.bool, device=pos.device)
    g, i, j = near.nonzero().unbind(1)
    start = torch.cumsum(mask.sum(1), 0) - mask.sum(1)  # first node of each graph
    return torch.stack([start[g] + i, start[g] + j])


class RadiusGraph(torch.nn.Module):
    """What PyG's 3D models take as ``interaction_graph``: ``(edge_index, edge_weight)``."""

    def __init__(self, cutoff: float):
        super().__init__()
        self.cutoff = cutoff

    def forward(self, pos: torch.Tensor, batch: torch.Tensor):
        edge_index = radius_edges(pos, batch, self.cutoff)
        weight = (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
        return edge_index, weight


class ReLUAfter(torch.nn.Module):
    """A planted fault: ReLU on a layer's output (breaks vectors, and signs of pseudoscalars)."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.handle = module.register_forward_hook(lambda m, a, out: torch.relu(out))

    def remove(self):
        self.handle.remove()
