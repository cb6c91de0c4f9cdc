"""How the copies of an input are batched for one forward pass, and how outputs come apart.

Tensors ``(B, ...)`` stack along the batch axis. PyG graphs become one big ``Batch`` of
``copies x B`` graphs (nodes, edges and graphs of each copy contiguous), so node-level outputs
come back as ``(copies, N, ...)`` and graph-level ones as ``(copies, B, ...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..errors import SymmetryError
from .actions import Action, TestElement

__all__ = ["TensorIO", "GraphIO"]


class TensorIO:
    """Inputs that are one tensor ``(B, ...)``: the default."""

    def __init__(self, action: Action):
        self.action = action

    def stack(
        self, x: torch.Tensor, elements: Sequence[TestElement], original: bool = True
    ) -> torch.Tensor:
        """``[x, g1·x, g2·x, ...]`` flattened to ``((1 + G)·B, ...)`` (without ``x`` itself when
        not ``original``)."""
        if not elements and original:
            return x
        copies = self.action.apply(elements, x)
        batch = torch.cat([x.unsqueeze(0), copies], 0) if original else copies
        return batch.reshape(-1, *x.shape[1:])

    def split(self, out: torch.Tensor, copies: int) -> torch.Tensor:
        return out.reshape(copies, -1, *out.shape[1:])

    def primary(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def inputs(self, x: torch.Tensor) -> list[tuple[str, torch.Tensor, Action]]:
        """Every input tensor the group moves: ``(name, tensor, action)``."""
        return [("input", x, self.action)]

    def grad_leaves(self, stacked: torch.Tensor) -> tuple[Any, list[tuple[torch.Tensor, Action]]]:
        leaf = stacked.detach().requires_grad_(True)
        return leaf, [(leaf, self.action)]

    def to(self, x: torch.Tensor, device, dtype) -> torch.Tensor:
        if device is not None:
            x = x.to(device=device)
        return x.to(dtype) if x.is_floating_point() else x

    def samples(self, x: torch.Tensor) -> int:
        return int(x.shape[0])

    def seeds(self, stacked) -> list:
        return []


class GraphIO:
    """PyG ``Data``/``Batch`` inputs acted on per node.

    ``node_actions`` maps a node attribute (``x``, ``pos``) to the action on it (rows = nodes);
    ``relabel`` rewrites ``edge_index`` for an element that reorders the nodes (``None`` when the
    group leaves the node order alone, e.g. rotations) and ``perm`` gives that reordering (new
    node i is old node ``perm[i]``; ``None`` for an element that keeps the order).

    Every other attribute with one row per node (atom types ``z``, charges, masks) moves with the
    nodes as an invariant; edge attributes stay with their edges (the edges are relabelled, not
    reordered) and graph attributes with their graphs. An attribute that is none of these is left
    as it is and listed by :meth:`placement`, so the report can name it.
    """

    def __init__(
        self,
        node_actions: dict[str, Action],
        relabel=None,
        primary: str = "x",
        perm=None,
    ):
        self.node_actions = node_actions
        self.relabel = relabel
        self.primary_key = primary
        self.perm = perm

    @staticmethod
    def _batch(x: Any):
        from torch_geometric.data import Batch, Data

        if isinstance(x, Batch):
            return x
        if isinstance(x, Data):
            return Batch.from_data_list([x])
        raise SymmetryError(
            f"inputs: expected a torch_geometric Data or Batch, got {type(x).__name__}"
        )

    @staticmethod
    def _counts(batch) -> tuple[int, int, int]:
        nodes = int(batch.num_nodes)
        edges = int(batch.edge_index.shape[1]) if "edge_index" in batch.keys() else 0
        graphs = int(batch.num_graphs) if "batch" in batch.keys() or "ptr" in batch.keys() else 1
        return nodes, edges, graphs

    def kinds(self, batch) -> dict[str, str]:
        """How each attribute of ``batch`` is copied: ``node`` (moves with the nodes), ``index``
        (node indices, e.g. ``edge_index``), ``edge``, ``graph``, ``batch``, ``ptr``, ``other``
        (a tensor that is none of these: left as it is) or ``constant`` (not a tensor)."""
        nodes, edges, graphs = self._counts(batch)
        out = {}
        for key in batch.keys():
            value = batch[key]
            if key in ("batch", "ptr"):
                out[key] = key
            elif not isinstance(value, torch.Tensor):
                out[key] = "constant"
            elif key in self.node_actions:
                out[key] = "node"
            elif value.dim() == 0:
                out[key] = "other"
            elif batch.__cat_dim__(key, value) != 0:
                out[key] = "index" if "index" in key or key == "face" else "other"
            elif value.shape[0] == nodes and not (nodes == edges and "edge" in key):
                out[key] = "node"
            elif value.shape[0] == edges and edges > 0:
                out[key] = "edge"
            elif value.shape[0] == graphs:
                out[key] = "graph"
            else:
                out[key] = "other"
        return out

    def placement(self, x: Any) -> dict[str, list[str]]:
        """The attributes the group moves by a declared action (``declared``), those that move
        with the nodes as invariants (``invariant``) and those left as they are (``other``)."""
        batch = self._batch(x)
        kinds = self.kinds(batch)
        return {
            "declared": [k for k in self.node_actions if k in kinds],
            "invariant": sorted(
                k for k, v in kinds.items() if v == "node" and k not in self.node_actions
            ),
            "other": sorted(k for k, v in kinds.items() if v == "other"),
        }

    def stack(self, x: Any, elements: Sequence[TestElement], original: bool = True):
        """One Batch of the original graphs followed by every moved copy, copy after copy
        (only the moved copies when not ``original``).

        The batch's tensors are repeated once per copy (attributes set on a ``Batch`` after
        batching are kept: nothing goes through ``to_data_list``); each moved node attribute is
        replaced by all its moved copies at once (one action call for all elements), the other
        node attributes are reordered with the nodes, and the edges of each copy are relabelled
        where the element reorders nodes.
        """
        batch = self._batch(x)
        elements = list(elements)
        if not elements and not original:
            raise ValueError("stack: no copies")
        nodes, edges, graphs = self._counts(batch)
        copies = len(elements) + original
        kinds = self.kinds(batch)
        perms = [None] * original + [None if self.perm is None else self.perm(e) for e in elements]
        stacked = batch.clone()
        for key, kind in kinds.items():
            value = batch[key]
            if kind in ("constant", "other"):
                continue
            if kind == "batch":
                stacked[key] = torch.cat([value + k * graphs for k in range(copies)])
            elif kind == "ptr":
                stacked[key] = torch.cat(
                    [value[:1]] + [value[1:] + k * nodes for k in range(copies)]
                )
            elif kind == "index":
                parts = []
                for k, element in enumerate([None] * original + elements):
                    index = value
                    if element is not None and perms[k] is not None and self.relabel is not None:
                        index = self.relabel(element, value)
                    parts.append(index + k * nodes)
                stacked[key] = torch.cat(parts, dim=-1)
            elif kind == "node":
                action = self.node_actions.get(key)
                if action is not None and elements:
                    moved = action.apply(elements, value).to(value.dtype)
                    rows = ([value] if original else []) + list(moved.unbind(0))
                else:  # invariant node attributes: reordered with the nodes
                    rows = [value if p is None else value[p.to(value.device)] for p in perms]
                stacked[key] = torch.cat(rows)
            else:  # edge and graph attributes: the same in every copy
                stacked[key] = torch.cat([value] * copies)
        stacked._num_graphs = graphs * copies
        stacked._slice_dict, stacked._inc_dict = _copied_slices(batch, copies, kinds, nodes)
        return stacked

    def split(self, out: torch.Tensor, copies: int) -> torch.Tensor:
        return out.reshape(copies, -1, *out.shape[1:])

    def primary(self, x: Any) -> torch.Tensor:
        batch = self._batch(x)
        if self.primary_key not in batch.keys():
            present = ", ".join(sorted(batch.keys())) or "none"
            raise SymmetryError(
                f"inputs: the graphs have no node features '{self.primary_key}' (attributes: "
                f"{present}); set data.{self.primary_key} (one row per node), or for point clouds "
                "without features pass irreps_in=None"
            )
        return batch[self.primary_key]

    def inputs(self, x: Any) -> list[tuple[str, torch.Tensor, Action]]:
        """Every node attribute the group moves (``x``, ``pos``): ``(name, tensor, action)``."""
        batch = self._batch(x)
        return [
            (key, batch[key], action)
            for key, action in self.node_actions.items()
            if key in batch.keys() and isinstance(batch[key], torch.Tensor)
        ]

    def grad_leaves(self, stacked):
        leaves = []
        for key, action in self.node_actions.items():
            value = stacked[key] if key in stacked.keys() else None
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                leaf = value.detach().requires_grad_(True)
                stacked[key] = leaf
                # a gradient moves by the linear part (translations leave it alone)
                grad_action = getattr(action, "gradient_action", None)
                leaves.append((leaf, grad_action() if grad_action else action))
        return stacked, leaves

    def to(self, x: Any, device, dtype):
        batch = self._batch(x)
        batch = batch.to(device) if device is not None else batch.clone()
        for key in batch.keys():
            value = batch[key]
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                batch[key] = value.to(dtype)
        return batch

    def samples(self, x: Any) -> int:
        return int(self._batch(x).num_graphs)

    def seeds(self, stacked) -> list:
        """The node attributes the model will read, with their actions (for layer tests)."""
        return [
            (stacked[key], action)
            for key, action in self.node_actions.items()
            if key in stacked.keys() and isinstance(stacked[key], torch.Tensor)
        ]


def _copied_slices(batch, copies: int, kinds: dict[str, str], nodes: int):
    """``_slice_dict`` / ``_inc_dict`` of ``copies`` repetitions of ``batch`` (so that
    ``to_data_list`` still works on the stacked batch); attributes the batch itself does not
    slice (set after batching) are left out, as PyG leaves them."""
    slices = getattr(batch, "_slice_dict", None) or {}
    incs = getattr(batch, "_inc_dict", None) or {}
    new_slices, new_incs = {}, {}
    for key, sl in slices.items():
        if key not in kinds or not isinstance(sl, torch.Tensor):
            continue
        step = sl[-1]
        new_slices[key] = torch.cat([sl[:1]] + [sl[1:] + k * step for k in range(copies)])
        inc = incs.get(key)
        if isinstance(inc, torch.Tensor):
            shift = nodes if kinds[key] == "index" else 0
            new_incs[key] = torch.cat([inc + k * shift for k in range(copies)])
        elif inc is not None:
            new_incs[key] = inc
    return new_slices, new_incs
