"""Helpers shared by the family expansions."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..errors import DesignError
from ..groups import GroupInfo, RepTerm, parse_rep_expr, rep_dim
from .plan import AlternativePlan, ArchitecturePlan, Decision
from .rules import Rule

__all__ = [
    "class_name",
    "base_plan",
    "rep_size",
    "format_terms",
    "output_dim",
    "output_copies",
    "repeat_terms",
    "per_output",
    "output_decision",
    "per_node_outputs",
    "times",
]


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
    return rep_dim(group, expr)


def output_dim(spec: Any) -> int:
    task = spec.task
    return int(task.classes or task.targets or 1)


def output_copies(spec: Any) -> tuple[int, str]:
    """How many copies of ``output.representation`` the model returns, and of what: one per
    class (classification, segmentation) or per target (regression)."""
    task = spec.task
    if task.classes:
        return int(task.classes), "classes"  # at least 2
    n = int(task.targets or 1)
    return n, "target" if n == 1 else "targets"


def repeat_terms(terms: list[RepTerm], n: int) -> list[RepTerm]:
    """``n`` copies of a representation, copy after copy (class-major): ``irrep(1)`` x 3 is
    ``3 x irrep(1)``, ``trivial + irrep(1)`` x 2 is ``trivial + irrep(1) + trivial + irrep(1)``."""
    if n == 1:
        return list(terms)
    if len(terms) == 1:
        return [replace(terms[0], count=terms[0].count * n)]
    return list(terms) * n


def per_output(spec: Any) -> str:
    """The representation of the whole equivariant output: ``output.representation`` is how the
    group acts on the output of one class (one target), and there is one copy per class."""
    n, _ = output_copies(spec)
    return format_terms(repeat_terms(parse_rep_expr(spec.output.representation or "trivial"), n))


def per_node_outputs(spec: Any, where: str) -> int:
    """Outputs per node (set element) of an S_n-equivariant output: ``classes``/``targets``
    copies of ``output.representation``, which must be trivial (S_n moves whole nodes)."""
    n, _ = output_copies(spec)
    if spec.output.type != "equivariant":
        return n
    terms = parse_rep_expr(spec.output.representation or "trivial")
    if any(t.kind != "trivial" for t in terms):
        raise DesignError(
            f"output.representation: {spec.output.representation!r}: S_n moves whole {where}s "
            f"and leaves each {where}'s outputs as they are; use 'representation: trivial' "
            "(classes or targets sets how many outputs each one has)"
        )
    return n * sum(t.count for t in terms)


def output_decision(spec: Any, out_repr: str) -> Decision:
    """Why the output has the representation it has (``classes``/``targets`` copies)."""
    n, what = output_copies(spec)
    return Decision(
        topic="output representation",
        choice=f"{n} {what} x [{spec.output.representation}] = [{out_repr}]",
        rule="output.representation is per class (per target)",
        why="each class's scores (each target's value) transform by the representation the spec "
        "names; the model returns one copy per class or target, one after the other",
    )


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
