"""Small random-weight models of the field's libraries, shared by the tests and the benchmarks:
MACE (mace-torch) and PyG's SchNet on PyG batches of molecules."""

from __future__ import annotations

import torch

from ._graphs import RadiusGraph, radius_edges

ATOMIC_NUMBERS = [1, 6, 8]


def build_mace() -> torch.nn.Module:
    from e3nn import o3
    from mace import modules as mace_modules

    block = mace_modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    return mace_modules.MACE(
        r_max=4.0,
        num_bessel=4,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=len(ATOMIC_NUMBERS),
        hidden_irreps=o3.Irreps("8x0e+8x1o"),
        MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=torch.zeros(len(ATOMIC_NUMBERS)),
        avg_num_neighbors=4.0,
        atomic_numbers=ATOMIC_NUMBERS,
        correlation=2,
        gate=torch.nn.functional.silu,
    )


class MaceOnBatch(torch.nn.Module):
    """A PyG batch (pos, one-hot x) in MACE's input dict; returns one of MACE's outputs."""

    def __init__(self, output: str = "energy", compute_force: bool = True):
        super().__init__()
        self.mace = build_mace()
        self.output, self.compute_force = output, compute_force

    def forward(self, batch):
        edge_index = radius_edges(batch.pos, batch.batch, 4.0)
        zeros = torch.zeros(edge_index.shape[1], 3, dtype=batch.pos.dtype)
        data = {
            "positions": batch.pos,
            "node_attrs": batch.x,
            "edge_index": edge_index,
            "shifts": zeros,
            "unit_shifts": zeros,
            "cell": torch.zeros(3 * batch.num_graphs, 3, dtype=batch.pos.dtype),
            "batch": batch.batch,
            "ptr": batch.ptr,
            "head": torch.zeros(batch.num_graphs, dtype=torch.long),
        }
        out = self.mace(data, training=self.training, compute_force=self.compute_force)
        return out[self.output]


class OnAtoms(torch.nn.Module):
    """``net(z, pos, batch)``; ``part`` picks one output of a model that returns several."""

    def __init__(self, net: torch.nn.Module, part: int | None = None):
        super().__init__()
        self.net, self.part = net, part

    def forward(self, batch):
        out = self.net(batch.z, batch.pos, batch.batch)
        return out if self.part is None else out[self.part]


def schnet(cutoff: float = 4.0) -> torch.nn.Module:
    from torch_geometric.nn.models import SchNet

    return SchNet(
        hidden_channels=16,
        num_filters=16,
        num_interactions=2,
        num_gaussians=10,
        cutoff=cutoff,
        interaction_graph=RadiusGraph(cutoff),
    )
