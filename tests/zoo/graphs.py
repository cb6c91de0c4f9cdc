"""Graph models: GIN message passing on PyG batches under node permutations, correct and with
planted faults.

:class:`GIN` is a node encoder, a slot for a positional encoding (``pe``), two GIN convolutions
and a sum per graph (graph level) or per-node outputs; plain torch and PyG modules that declare
nothing, typed by ``Symmetry.graphs``' shape rule (node-sized tensors move with the nodes).
Graphs of different sizes, so that an index within each graph is not a fixed pattern.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GINConv, global_add_pool

from equidesign.symmetry import Symmetry

from ._registry import register

FEATURES = 5
HIDDEN = 16
SIZES = (7, 9, 8)  # nodes per graph
DEGREE = 3  # edges per node (random, directed)


def _mlp(a: int, b: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, b))


class SumPool(torch.nn.Module):
    """The sum over the nodes of each graph: invariant to their order."""

    def forward(self, x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return global_add_pool(x, batch)


def index_in_graph(batch: torch.Tensor) -> torch.Tensor:
    """Each node's position within its own graph (0, 1, ... per graph)."""
    position = torch.arange(batch.numel(), device=batch.device)
    first = torch.full((int(batch.max()) + 1,), batch.numel(), device=batch.device)
    first = first.scatter_reduce(0, batch, position, reduce="amin")
    return position - first[batch]


class NodeIndexEncoding(torch.nn.Module):
    """Fault: adds each node's index within its graph to its features (a positional encoding).

    The index is a property of the labelling, not of the graph: relabelling the nodes moves
    the features but not the indices.
    """

    def forward(self, x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        return x + 0.3 * index_in_graph(batch).to(x.dtype)[:, None]


class GlobalNodeIndex(torch.nn.Module):
    """Fault, and a batch dependence: the node's index in the whole batch (``torch.arange``).

    A graph's output then depends on where it sits in the batch: the same graph gives another
    output when other graphs come before it.
    """

    def forward(self, x: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        index = torch.arange(x.shape[0], device=x.device, dtype=x.dtype)
        return x + 0.3 * index[:, None]


class GIN(torch.nn.Module):
    """encoder -> pe -> two GINConv with ReLU -> a sum per graph -> head (or per-node head)."""

    def __init__(self, node_level: bool = False, pe: torch.nn.Module | None = None):
        super().__init__()
        self.node_level = node_level
        self.encoder = torch.nn.Linear(FEATURES, HIDDEN)
        self.pe = pe
        self.convs = torch.nn.ModuleList([GINConv(_mlp(HIDDEN, HIDDEN)) for _ in range(2)])
        self.pool = SumPool()
        self.head = torch.nn.Linear(HIDDEN, 2)

    def forward(self, data) -> torch.Tensor:
        h = self.encoder(data.x)
        if self.pe is not None:
            h = self.pe(h, data.batch)
        for conv in self.convs:
            h = torch.relu(conv(h, data.edge_index))
        return self.head(h if self.node_level else self.pool(h, data.batch))


def graphs(seed: int) -> Batch:
    """A batch of random directed graphs of ``SIZES`` nodes, seeded."""
    gen = torch.Generator().manual_seed(4000 + seed)
    data = []
    for n in SIZES:
        src = torch.arange(n).repeat_interleave(DEGREE)
        dst = (src + torch.randint(1, n, (n * DEGREE,), generator=gen)) % n  # no self-loops
        data.append(
            Data(x=torch.randn(n, FEATURES, generator=gen), edge_index=torch.stack([src, dst]))
        )
    return Batch.from_data_list(data)


def build_gin(seed: int, node_level: bool = False, pe: torch.nn.Module | None = None):
    torch.manual_seed(seed)
    model = GIN(node_level, pe).eval()
    return model, Symmetry.graphs(node_level=node_level), graphs(seed)


# ------------------------------------------------------------------------- correct models
@register("gin_graph_level", "PASS", note="GIN convolutions and a sum per graph: invariant")
def gin_graph_level(seed):
    """Correct: graph-level outputs that ignore the node labelling."""
    return build_gin(seed)


@register("gin_node_level", "PASS", note="the same GIN with one output per node: equivariant")
def gin_node_level(seed):
    """Correct: node-level outputs that move with the nodes."""
    return build_gin(seed, node_level=True)


# ------------------------------------------------------------------------- planted faults
@register(
    "node_index_encoding_gnn",
    "FAIL",
    "pe",
    "custom_layer",
    note="each node's index within its graph added to its features: relabelling changes it",
)
def node_index_encoding_gnn(seed):
    return build_gin(seed, pe=NodeIndexEncoding())


@register(
    "node_index_encoding_node_level",
    "FAIL",
    "pe",
    "custom_layer",
    note="the same index encoding under node-level outputs",
)
def node_index_encoding_node_level(seed):
    return build_gin(seed, node_level=True, pe=NodeIndexEncoding())
