"""Point-cloud models: e3nn tensor-product networks on PyG batches, correct and with planted
faults.

:class:`PointNet` is the base: relative positions, their spherical harmonics and a radial
basis, one tensor-product interaction onto ``HIDDEN`` irreps, a gate, a second interaction onto
the output irreps, and a sum over the nodes (graph-level outputs). Faults replace one named
part: the nonlinearity (``act``), a layer after it (``extra``), the edge features (``edges``).
"""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet, Gate
from torch_geometric.data import Batch, Data
from torch_geometric.utils import scatter

from equidesign.symmetry import Symmetry

from ._registry import register

IRREPS_IN = "2x0e"
SH = "1x0e+1x1o+1x2e"
HIDDEN = "4x0e+2x1o+1x2e"
PRE_GATE = "4x0e+3x0e+2x1o+1x2e"  # scalars, gates, gated
RADIUS = 2.0
BASIS = 6
POINTS = 8


class EdgeVectors(torch.nn.Module):
    """pos[dst] - pos[src]: translations cancel."""

    irreps_out = o3.Irreps("1x1o")

    def forward(self, pos, edge_index):
        return pos[edge_index[1]] - pos[edge_index[0]]


class AbsoluteEdges(torch.nn.Module):
    """Fault: the 'edge vectors' are the neighbours' absolute positions (no subtraction)."""

    irreps_out = o3.Irreps("1x1o")

    def forward(self, pos, edge_index):
        return pos[edge_index[0]]


class Radial(torch.nn.Module):
    irreps_in, irreps_out = o3.Irreps("1x1o"), o3.Irreps(f"{BASIS}x0e")

    def forward(self, vectors):
        return soft_one_hot_linspace(
            vectors.norm(dim=1), 0.0, RADIUS, BASIS, basis="smooth_finite", cutoff=True
        )


class Interaction(torch.nn.Module):
    """sum_j x_j (x) Y(r_ij) with weights from |r_ij|, plus a self-interaction."""

    def __init__(self, irreps_in, irreps_out):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.tp = o3.FullyConnectedTensorProduct(irreps_in, SH, irreps_out, shared_weights=False)
        self.radial = FullyConnectedNet([BASIS, 16, self.tp.weight_numel], torch.nn.functional.silu)
        self.self_interaction = o3.Linear(irreps_in, irreps_out)

    def forward(self, x, edge_index, edge_sh, edge_basis):
        messages = self.tp(x[edge_index[0]], edge_sh, self.radial(edge_basis))
        summed = scatter(messages, edge_index[1], dim=0, dim_size=x.shape[0], reduce="sum")
        return summed / 2.0 + self.self_interaction(x)


class IrrepsReLU(torch.nn.Module):
    """Fault: in place of the gate, ReLU on every component, vectors included."""

    def __init__(self):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(PRE_GATE), o3.Irreps(HIDDEN)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        # the gate's output layout: the 4 scalars and the gated irreps (the 3 gates dropped)
        return self.relu(torch.cat([x[:, :4], x[:, 7:]], dim=1))


class VectorBias(torch.nn.Module):
    """Fault: a learnable bias added to every component, the l=1 and l=2 ones too."""

    def __init__(self, irreps):
        super().__init__()
        self.irreps_in = self.irreps_out = o3.Irreps(irreps)
        self.bias = torch.nn.Parameter(0.5 * torch.ones(o3.Irreps(irreps).dim))

    def forward(self, x):
        return x + self.bias


class CrossProduct(torch.nn.Module):
    """Fault: the second vector replaced by the cross product of the two, still declared 1o.

    v1 x v2 rotates like a vector, but a reflection flips its sign relative to one: it is a
    pseudovector (1e).
    """

    def __init__(self, irreps):
        super().__init__()
        self.irreps_in = self.irreps_out = o3.Irreps(irreps)

    def forward(self, x):
        v1, v2 = x[:, 4:7], x[:, 7:10]
        return torch.cat([x[:, :7], torch.linalg.cross(v1, v2), x[:, 10:]], dim=1)


class PointNet(torch.nn.Module):
    """Two interactions with a gate between them; graph-level sums or per-node outputs."""

    def __init__(self, irreps_out="1x0e", node_level=False, act=None, extra=None, edges=None):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(IRREPS_IN), o3.Irreps(irreps_out)
        self.node_level = node_level
        self.edges = edges or EdgeVectors()
        self.sh = o3.SphericalHarmonics(SH, normalize=True, normalization="component")
        self.radial = Radial()
        self.first = Interaction(IRREPS_IN, PRE_GATE)
        self.act = act or Gate(
            "4x0e", [torch.nn.functional.silu], "3x0e", [torch.sigmoid], "2x1o+1x2e"
        )
        self.extra = extra
        self.second = Interaction(HIDDEN, irreps_out)

    def forward(self, data):
        pos, batch = data.pos, data.batch
        close = (torch.cdist(pos, pos) < RADIUS) & (batch[:, None] == batch[None, :])
        close.fill_diagonal_(False)
        edge_index = close.nonzero().T
        vectors = self.edges(pos, edge_index)
        edge_sh, edge_basis = self.sh(vectors), self.radial(vectors)
        x = self.act(self.first(data.x, edge_index, edge_sh, edge_basis))
        if self.extra is not None:
            x = self.extra(x)
        x = self.second(x, edge_index, edge_sh, edge_basis)
        return x if self.node_level else scatter(x, batch, dim=0, reduce="sum")


def clouds(seed: int, graphs: int = 2, points: int = POINTS) -> Batch:
    """Random clouds with two scalar features per point, seeded."""
    gen = torch.Generator().manual_seed(2000 + seed)
    return Batch.from_data_list(
        [
            Data(
                pos=torch.randn(points, 3, generator=gen),
                x=torch.randn(points, 2, generator=gen),
            )
            for _ in range(graphs)
        ]
    )


def _build(seed, group="E3 x Sn", irreps_out="1x0e", node_level=False, **parts):
    torch.manual_seed(seed)
    model = PointNet(irreps_out, node_level, **parts).eval()
    out = "invariant" if irreps_out == "1x0e" else irreps_out
    sym = Symmetry.point_clouds(IRREPS_IN, out, group=group, node_level=node_level)
    return model, sym, clouds(seed)


# ------------------------------------------------------------------------- correct models
@register("e3nn_energy", "PASS", note="gated tensor-product network, invariant sum per graph")
def e3nn_energy(seed):
    """Correct: E(3) x S_n-invariant energy."""
    return _build(seed)


@register("e3nn_vectors", "PASS", note="the same network with one l=1 vector per node", exact=1e-4)
def e3nn_vectors(seed):
    """Correct: per-node vectors (forces) that rotate with the cloud."""
    return _build(seed, irreps_out="1x1o", node_level=True)


# ------------------------------------------------------------------------- planted faults
@register(
    "relu_on_vectors",
    "FAIL",
    "act.relu",
    "nonlinearity",
    note="ReLU on every component after the first interaction, l=1 and l=2 included",
)
def relu_on_vectors(seed):
    return _build(seed, act=IrrepsReLU())


@register(
    "bias_on_vectors",
    "FAIL",
    "extra",
    "custom_layer",
    note="a learnable bias on all components: a constant vector has no rotation-free value",
)
def bias_on_vectors(seed):
    return _build(seed, extra=VectorBias(HIDDEN))


@register(
    "plain_linear_on_irreps",
    "FAIL",
    "extra",
    "unconstrained_layer",
    note="torch.nn.Linear over the irreps features mixes l=0, 1 and 2 components",
)
def plain_linear_on_irreps(seed):
    torch.manual_seed(seed + 100)
    return _build(seed, extra=torch.nn.Linear(o3.Irreps(HIDDEN).dim, o3.Irreps(HIDDEN).dim))


@register(
    "absolute_positions",
    "FAIL",
    "edges",
    "translation",
    note="edge 'vectors' are absolute neighbour positions: rotations pass, translations do not",
)
def absolute_positions(seed):
    return _build(seed, edges=AbsoluteEdges())


@register(
    "cross_product_as_vector",
    "FAIL",
    "extra",
    "parity",
    note="a cross product (a pseudovector, 1e) declared 1o: rotations pass, reflections do not",
)
def cross_product_as_vector(seed):
    return _build(seed, irreps_out="1x1o", node_level=True, extra=CrossProduct(HIDDEN))


class IndexEncoding(torch.nn.Module):
    """Fault: adds each node's index in the batch to its first scalar (a positional encoding)."""

    def __init__(self, irreps):
        super().__init__()
        self.irreps_in = self.irreps_out = o3.Irreps(irreps)

    def forward(self, x):
        index = torch.arange(x.shape[0], dtype=x.dtype, device=x.device) % POINTS
        return torch.cat([x[:, :1] + 0.1 * index[:, None], x[:, 1:]], dim=1)


@register(
    "node_index_encoding",
    "FAIL",
    "extra",
    "permutation",
    note="node indices added to a scalar: rigid motions pass, reordering the atoms does not",
)
def node_index_encoding(seed):
    return _build(seed, extra=IndexEncoding(HIDDEN))
