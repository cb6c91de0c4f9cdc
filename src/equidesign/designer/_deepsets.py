"""Expansion of DeepSets (S_n on sets ``(B, N, C)``, plain torch).

Invariant outputs: a per-element MLP (phi), a sum over the elements, an MLP readout (rho).
Per-element outputs: equivariant set layers ``y_i = A x_i + B mean_j x_j`` (Zaheer et al.).
"""

from __future__ import annotations

from typing import Any

from ._common import base_plan, output_dim, per_node_outputs
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_deepsets", "DEFAULT_SET_SIZE"]

DEFAULT_SET_SIZE = 8

WHY = {
    "PerElementMLP": "the same MLP on every element: it commutes with any reordering",
    "SumPool": "a sum over the elements does not depend on their order",
    "InvariantMLP": "a plain MLP on invariant features",
    "SetLayer": "A x_i + B mean_j x_j: the same map on every element, plus a symmetric summary",
}


def expand_deepsets(spec: Any, rule: Rule) -> ArchitecturePlan:
    width, depth = spec.constraints.width, spec.constraints.depth
    channels = spec.input.channels
    invariant = spec.output.type == "invariant"
    out_dim = output_dim(spec) if invariant else per_node_outputs(spec, "element")
    per_elem = f"{channels} channels per element"
    hidden = f"{width} channels per element"
    out_repr = f"{out_dim} invariant outputs" if invariant else f"{out_dim} channels per element"
    plan = base_plan(spec, rule, output_repr=out_repr, out_dim=out_dim, extra={})
    plan.input_repr = per_elem
    plan.input_size = [spec.input.size or DEFAULT_SET_SIZE]
    if invariant:
        plan.layers = [
            LayerPlan(
                name="phi",
                kind="PerElementMLP",
                role="per-element encoder",
                in_repr=per_elem,
                out_repr=hidden,
                features=depth,
                why=WHY["PerElementMLP"],
            ),
            LayerPlan(
                name="pool",
                kind="SumPool",
                role="invariant pooling",
                in_repr=hidden,
                out_repr=f"{width} invariant features",
                why=WHY["SumPool"],
            ),
            LayerPlan(
                name="rho",
                kind="InvariantMLP",
                role="readout",
                in_repr=f"{width} invariant features",
                out_repr=out_repr,
                features=width,
                why=WHY["InvariantMLP"],
            ),
        ]
    else:
        layers = []
        for i in range(depth):
            layers.append(
                LayerPlan(
                    name=f"layers.{2 * i}",
                    kind="SetLayer",
                    role="equivariant set layer",
                    in_repr=per_elem if i == 0 else hidden,
                    out_repr=hidden,
                    why=WHY["SetLayer"],
                )
            )
            layers.append(
                LayerPlan(
                    name=f"layers.{2 * i + 1}",
                    kind="ReLU",
                    role="nonlinearity",
                    in_repr="trivial",
                    out_repr="trivial",
                    why="pointwise on each element's channels: commutes with reordering",
                )
            )
        layers.append(
            LayerPlan(
                name="head",
                kind="SetLayer",
                role="per-element output",
                in_repr=hidden,
                out_repr=out_repr,
                why=WHY["SetLayer"],
            )
        )
        plan.layers = layers
    plan.decisions += [
        Decision(
            topic="architecture",
            choice="phi -> sum -> rho" if invariant else "equivariant set layers",
            rule="DeepSets: every permutation-invariant set function is rho(sum phi(x_i))",
            why="sum pooling is exactly invariant; per-element maps are exactly equivariant",
        ),
        Decision(
            topic="aggregation",
            choice="sum" if invariant else "mean inside each set layer",
            rule="symmetric aggregation",
            why="sums keep the set size in the features; means are size-independent",
        ),
    ]
    return plan
