"""``Symmetry.graphs``: node permutations of PyG graphs (within each graph of a batch)."""

from __future__ import annotations

import torch

from ..errors import SymmetryError
from ..groups import parse_group
from .actions import ElementSet, PermutationAction, TestElement, TrivialAction
from .io import GraphIO

__all__ = ["graph_symmetry", "relabel_edges", "block_perm", "block_permutations"]


def relabel_edges(element: TestElement, edge_index: torch.Tensor) -> torch.Tensor:
    """Edges after reordering the nodes by ``p`` (new node i is old node p[i])."""
    p = torch.as_tensor(element.value, device=edge_index.device)
    inverse = torch.empty_like(p)
    inverse[p] = torch.arange(p.numel(), device=p.device)
    return inverse[edge_index]


def block_perm(ptr: list[int], gen: torch.Generator) -> torch.Tensor:
    """A random permutation of the nodes within each graph (boundaries ``ptr``)."""
    return torch.cat(
        [torch.randperm(b - a, generator=gen) + a for a, b in zip(ptr[:-1], ptr[1:], strict=True)]
    )


def block_permutations(ptr: list[int], seed: int, count: int) -> ElementSet:
    """The identity and ``count`` random permutations, each within every graph of the batch."""
    gen = torch.Generator().manual_seed(seed)
    n = ptr[-1]
    elements = [TestElement("identity", torch.arange(n), identity=True)]
    for k in range(count):
        elements.append(TestElement(f"permutation {k + 1}", block_perm(ptr, gen)))
    note = (
        f"the identity and {count} random node permutations within each of the "
        f"{len(ptr) - 1} graphs (seed {seed})"
    )
    return ElementSet(elements, exhaustive=False, note=note)


def _perm(element: TestElement) -> torch.Tensor | None:
    return None if element.identity else torch.as_tensor(element.value)


def graph_symmetry(cls, node_level: bool, n_random: int, example=None):
    state: dict = {"ptr": None}
    nodes = PermutationAction(dim=0, name="node permutation")

    def observe(x):
        batch = GraphIO._batch(x)
        state["ptr"] = (
            [int(v) for v in batch.ptr] if hasattr(batch, "ptr") else [0, batch.num_nodes]
        )
        state["edges"], state["graphs"] = int(batch.num_edges), int(batch.num_graphs)

    def default(shape: tuple[int, ...]):
        if state["ptr"] is None:
            return None
        rows = shape[0]
        if rows == state["ptr"][-1]:
            return nodes  # node-sized: moves with the nodes
        if rows in (state["edges"], state["graphs"]):
            return TrivialAction()  # edges keep their order; graph-level values do not move
        return None

    def source(seed, count):
        if state["ptr"] is None:
            raise SymmetryError("Symmetry.graphs: pass inputs= (a PyG Data or Batch) to audit")
        return block_permutations(state["ptr"], seed, count)

    maker = None
    if example is not None:

        def maker(batch, gen, dtype, device):
            return GraphIO({"x": nodes}, relabel=relabel_edges).to(
                example(batch, gen), device, dtype
            )

    sym = cls(
        name="Sn",
        domain="graph",
        in_action=nodes,
        out_action=nodes if node_level else TrivialAction(),
        group=parse_group("Sn"),
        n_random=n_random,
        _element_source=source,
        _input_maker=maker,
        _compose=lambda p, q: q[p],
        _input_help="pass inputs= (a torch_geometric Data or Batch) to audit",
    )
    sym._observer = observe
    sym._io = GraphIO({"x": nodes}, relabel=relabel_edges, perm=_perm)
    sym.relabel = relabel_edges
    sym.default_action = default
    return sym
