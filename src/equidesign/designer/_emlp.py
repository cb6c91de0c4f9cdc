"""Expansion of the equivariant MLP family (any finite group on vectors, symm-learning eLinear)."""

from __future__ import annotations

from typing import Any

from ..groups import parse_rep_expr, regular_irrep_count, rep_dim
from ._common import base_plan, format_terms, output_decision, output_dim, per_output, times
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_emlp"]

WHY = {
    "eLinear": "its weight is projected onto Hom_G(rho_in, rho_out), so rho_out(g) W = W rho_in(g)",
    "eBatchNorm1d": "one variance per irreducible subspace and an equivariant affine map",
    "ReLU": "regular representation: the group permutes coordinates, and a pointwise map "
    "commutes with permutations",
    "IrrepSubspaceNormPooling": "the norm of each irreducible component is invariant",
    "InvariantHead": "a plain MLP on invariant features: any map between trivial "
    "representations commutes with the group",
}


def expand_emlp(spec: Any, rule: Rule) -> ArchitecturePlan:
    group = spec.group_info
    width, depth = spec.constraints.width, spec.constraints.depth
    hidden = times(width, "regular")
    in_repr = format_terms(parse_rep_expr(spec.input.representation))
    invariant = spec.output.type == "invariant"
    if invariant:
        out_dim = output_dim(spec)
        out_repr = times(out_dim, "trivial")
    else:  # one copy of output.representation per target
        out_repr = per_output(spec)
        out_dim = rep_dim(group, out_repr)
    plan = base_plan(spec, rule, output_repr=out_repr, out_dim=out_dim, extra={})
    layers: list[LayerPlan] = []

    def add(kind, role, in_r, out_r, name=None, **kw):
        layers.append(
            LayerPlan(
                name=name or f"layers.{sum(1 for x in layers if x.name.startswith('layers.'))}",
                kind=kind,
                role=role,
                in_repr=in_r,
                out_repr=out_r,
                why=WHY.get(kind, ""),
                **kw,
            )
        )

    for block in range(depth):
        add("eLinear", "linear", in_repr if block == 0 else hidden, hidden)
        add("eBatchNorm1d", "norm", hidden, hidden)
        add("ReLU", "nonlinearity", hidden, hidden)
    if invariant:
        n_inv = width * regular_irrep_count(group)  # escnn's len(rep.irreps), without escnn
        pooled = times(n_inv, "trivial")
        add("IrrepSubspaceNormPooling", "invariant pooling", hidden, pooled, name="pool")
        add("InvariantHead", "head", pooled, out_repr, name="head", features=max(16, 2 * width))
    else:
        add("eLinear", "head", hidden, out_repr, name="head")
        layers[-1].why = (
            f"the equivariant output: its weight is projected onto Hom_G({hidden}, {out_repr}), "
            "so the output transforms by the representation the spec declares"
        )
    plan.layers = layers
    plan.decisions += [
        Decision(
            topic="hidden representation",
            choice=f"{hidden} (dimension {width * (group.order or 1)})",
            rule="layer pattern: regular hidden representations for finite groups",
            why="the regular representation contains every irrep and is a permutation "
            "representation, so pointwise ReLU is exact",
        ),
        Decision(
            topic="linear layers",
            choice="symm_learning.nn.eLinear",
            rule="every dense layer on group-structured features is projected onto Hom_G",
            why="a plain Linear would break equivariance as soon as its weights train",
        ),
        Decision(
            topic="normalization",
            choice="symm_learning.nn.eBatchNorm1d",
            rule="no plain BatchNorm over non-trivial representations",
            why="statistics respect the isotypic decomposition",
        ),
        Decision(
            topic="output",
            choice=(
                "norm pooling of each irreducible component, then a plain MLP head"
                if invariant
                else f"eLinear onto [{out_repr}]"
            ),
            rule="invariant pooling for invariant outputs" if invariant else "equivariant head",
            why=(
                "irrep norms keep information from every isotypic component, unlike the "
                "trivial projection alone"
                if invariant
                else "the last map is itself equivariant, so the output transforms by the "
                "declared representation"
            ),
        ),
    ]
    if not invariant:
        plan.decisions.append(output_decision(spec, out_repr))
    return plan
