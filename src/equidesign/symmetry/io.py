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
    group leaves the node order alone, e.g. rotations).
    """

    def __init__(self, node_actions: dict[str, Action], relabel=None, primary: str = "x"):
        self.node_actions = node_actions
        self.relabel = relabel
        self.primary_key = primary

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

    def stack(self, x: Any, elements: Sequence[TestElement], original: bool = True):
        """One Batch of the original graphs followed by every moved copy, copy after copy
        (only the moved copies when not ``original``).

        The graphs are batched once, ``len(elements) + 1`` times over; then each moved node
        attribute is replaced by all its moved copies at once (one action call for all
        elements), and the edges of each copy are relabelled where the element reorders nodes.
        """
        from torch_geometric.data import Batch

        graphs = self._batch(x).to_data_list()
        copies = len(elements) + 1
        stacked = Batch.from_data_list(graphs * copies)
        if not elements:
            return stacked
        if not original:  # the moved copies alone: drop the first copy's graphs after moving
            return Batch.from_data_list(self.stack(x, elements).to_data_list()[len(graphs) :])
        nodes = stacked.num_nodes // copies
        for key, action in self.node_actions.items():
            if key in stacked.keys():
                value = stacked[key][:nodes]  # the first copy: the graphs as batched here
                moved = action.apply(list(elements), value).to(value.dtype)
                stacked[key] = torch.cat([value.unsqueeze(0), moved]).flatten(0, 1)
        if self.relabel is not None and "edge_index" in stacked.keys():
            edges = stacked.edge_index.shape[1] // copies
            index = stacked.edge_index.clone()
            first = index[:, :edges]
            for k, element in enumerate(elements, start=1):
                index[:, k * edges : (k + 1) * edges] = self.relabel(element, first) + k * nodes
            stacked.edge_index = index
        return stacked

    def split(self, out: torch.Tensor, copies: int) -> torch.Tensor:
        return out.reshape(copies, -1, *out.shape[1:])

    def primary(self, x: Any) -> torch.Tensor:
        return self._batch(x)[self.primary_key]

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
            value = stacked[key]
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
