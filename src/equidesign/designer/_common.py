"""Helpers shared by the family expansions."""

from __future__ import annotations

import re
from typing import Any

from ..groups import GroupInfo, RepTerm, build_rep, parse_rep_expr
from .plan import AlternativePlan, ArchitecturePlan, Decision
from .rules import Rule

__all__ = ["class_name", "base_plan", "rep_size", "format_terms", "output_dim", "times"]


def class_name(name: str) -> str:
    """``c4_image_classifier`` -> ``C4ImageClassifier`` (the spec name is a validated identifier)."""
    parts = [p for p in re.split(r"_+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return out if out[0].isalpha() else f"Model{out}"


def times(count: int, atom: str) -> str:
    return atom if count == 1 else f"{count} x {atom}"


def format_terms(terms: list[RepTerm]) -> str:
    return " + ".join(str(t) for t in terms)


def rep_size(group: GroupInfo, expr: str) -> int:
    return int(build_rep(group, expr).size)


def output_dim(spec: Any) -> int:
    task = spec.task
    return int(task.classes or task.targets or 1)


def _input_repr(spec: Any) -> str:
    return format_terms(parse_rep_expr(spec.input.representation))


def base_plan(
    spec: Any, rule: Rule, *, output_repr: str, out_dim: int, extra: dict
) -> ArchitecturePlan:
    """The plan's header: everything but the layers."""
    group: GroupInfo = spec.group_info
    invariant = spec.output.type == "invariant"
    size = spec.input.size
    size_list = None if size is None else ([size, size] if isinstance(size, int) else list(size))
    plan = ArchitecturePlan(
        name=spec.name,
        class_name=class_name(spec.name),
        description=spec.description,
        group=group.name,
        domain=spec.domain,
        task=spec.task.kind,
        symmetry_type="Invariant" if invariant else "Equivariant",
        family=rule.family,
        library=rule.library,
        template=rule.template or "",
        rule=rule.name,
        input_repr=_input_repr(spec),
        input_size=size_list,
        input_channels=spec.input.channels,
        edge_channels=spec.input.edge_channels,
        output_repr=output_repr,
        output_dim=out_dim,
        width=spec.constraints.width,
        depth=spec.constraints.depth,
        dtype=spec.constraints.dtype,
        seed=spec.constraints.seed,
        max_params=spec.constraints.max_params,
        spec_hash=spec.spec_hash(),
        alternatives=[
            AlternativePlan(family=a.family, library=a.library, tradeoff=a.tradeoff)
            for a in rule.alternatives
        ],
        **extra,
    )
    plan.decisions.append(
        Decision(
            topic="family",
            choice=f"{rule.family} ({rule.library})",
            rule=f"selection table: {rule.name}",
            why=rule.rationale,
        )
    )
    return plan
