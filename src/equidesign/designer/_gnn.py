"""Expansion of message-passing GNNs (S_n on graphs, PyG): GIN / GINE convolutions, or GAT
(attention over each node's neighbours) when the spec asks for it."""

from __future__ import annotations

from typing import Any

from ._common import base_plan, output_dim, per_node_outputs
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_gnn", "DEFAULT_NODES"]

DEFAULT_NODES = 10


def expand_gnn(spec: Any, rule: Rule) -> ArchitecturePlan:
    width, depth = spec.constraints.width, spec.constraints.depth
    channels, edge = spec.input.channels, spec.input.edge_channels
    node_level = spec.task.kind.startswith("node_") or spec.output.type == "equivariant"
    out_dim = per_node_outputs(spec, "node") if node_level else output_dim(spec)
    per_node = f"{channels} features per node"
    hidden = f"{width} features per node"
    out_repr = f"{out_dim} per node" if node_level else f"{out_dim} per graph"
    plan = base_plan(spec, rule, output_repr=out_repr, out_dim=out_dim, extra={})
    plan.input_repr = per_node + (f", {edge} per edge" if edge else "")
    plan.input_size = [spec.input.size or DEFAULT_NODES]
    if spec.constraints.message_passing == "gat":
        conv = "GATConv"
    else:
        conv = "GINEConv" if edge else "GINConv"
    layers = [
        LayerPlan(
            name="encoder",
            kind="Linear",
            role="node encoder",
            in_repr=per_node,
            out_repr=hidden,
            why="the same map on every node",
        )
    ]
    for i in range(depth):
        layers.append(
            LayerPlan(
                name=f"convs.{i}",
                kind=conv,
                role="message passing",
                in_repr=hidden,
                out_repr=hidden,
                why=(
                    "attention weights from each node and its neighbour, a softmax over the "
                    "neighbours and a weighted sum: relabelling the nodes relabels the result"
                )
                if conv == "GATConv"
                else "a sum over each node's neighbours, then an MLP: relabelling the nodes "
                "relabels the result",
            )
        )
    if node_level:
        layers.append(
            LayerPlan(
                name="head",
                kind="MLP",
                role="per-node readout",
                in_repr=hidden,
                out_repr=out_repr,
                why="the same MLP on every node",
            )
        )
    else:
        layers.append(
            LayerPlan(
                name="pool",
                kind="SumPool",
                role="invariant pooling",
                in_repr=hidden,
                out_repr=f"{width} per graph",
                why="a sum over the nodes of each graph ignores their order",
            )
        )
        layers.append(
            LayerPlan(
                name="head",
                kind="MLP",
                role="readout",
                in_repr=f"{width} per graph",
                out_repr=out_repr,
                why="a plain MLP on invariant features",
            )
        )
    plan.layers = layers
    plan.decisions += [
        Decision(
            topic="message passing",
            choice=f"{depth} x {conv}" + (f" with {edge} edge features" if edge else ""),
            rule="Sn on graphs: aggregate neighbours with a symmetric function",
            why="attention (the spec's choice): a softmax-weighted sum over neighbours, "
            "symmetric in their order"
            if conv == "GATConv"
            else "sum aggregation keeps multiset information (GIN), and commutes with relabelling",
        ),
        Decision(
            topic="output",
            choice="per-node readout" if node_level else "sum over nodes, then an MLP",
            rule="node tasks are equivariant, graph tasks invariant",
            why="node outputs move with the nodes; a graph's output must not depend on labels",
        ),
        Decision(
            topic="radius/structure",
            choice="edges as given in the data (edge_index)",
            rule="graphs carry their own structure",
            why="relabelling nodes relabels edge_index; the model only ever indexes through it",
        ),
    ]
    return plan
