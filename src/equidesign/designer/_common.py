"""Helpers shared by the family expansions."""

from __future__ import annotations

import math
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
    "grid_note",
    "mark_approximate",
    "APPROXIMATE",
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


def grid_note(group: GroupInfo, domain: str) -> str:
    """Which elements the pixel (voxel) grid carries exactly, when some it does not; ``""`` when
    every element maps the grid onto itself (C1, C2, C4, D1, D2, D4, the cube's groups)."""
    if domain == "image2d" and group.kind in ("cyclic", "dihedral"):
        n, dihedral = int(group.n), group.kind == "dihedral"
        exact = math.gcd(n, 4)
        if exact == n:
            return ""
        off = [f"{k * 360 / n:g}" for k in range(1, n) if (k * exact) % n]
        angles = ", ".join(off[:-1]) + f" and {off[-1]}" if len(off) > 1 else off[0]
        angles = angles if len(off) <= 6 else f"{off[0]}, {off[1]}, ..."
        flips = ", and the reflections composed with them" if dihedral else ""
        if exact == 1:
            sub = "the identity and one reflection" if dihedral else "the identity"
            on_grid = f"only {sub} map{'' if dihedral else 's'} the pixel grid onto itself exactly"
        else:
            on_grid = (
                f"its subgroup {'D' if dihedral else 'C'}{exact} (rotations by multiples of "
                f"{360 // exact} degrees{flips}) maps the pixel grid onto itself exactly"
            )
        return (
            f"{on_grid}; its rotations by {angles} degrees{flips} are only approximately carried "
            "by the pixel grid: the filters are sampled on it and rotated images are interpolated"
        )
    if domain == "image2d" and group.kind in ("so2", "o2"):
        flips = (
            " and the reflections across the grid's axes and diagonals"
            if group.kind == "o2"
            else ""
        )
        return (
            f"rotations by multiples of 90 degrees{flips} map the pixel grid onto itself "
            "exactly; every other angle is only approximately carried by the pixel grid: the "
            "filters are sampled on it and rotated images are interpolated"
        )
    if domain == "image3d" and group.kind in ("so3", "o3", "ico", "full_ico"):
        exact = "the 24 rotations of the cube" + (
            " (48 with the inversion)" if group.kind in ("o3", "full_ico") else ""
        )
        ico = group.kind in ("ico", "full_ico")
        return (
            (f"its elements that are among {exact}" if ico else exact)
            + " map the voxel grid onto itself exactly; "
            f"{'the others (its five-fold rotations, ...)' if ico else 'rotations by any other angle'} "
            "are only approximately carried by the voxel grid: the filters are sampled on it and "
            "rotated volumes are interpolated"
        )
    return ""


#: layer kinds whose exactness depends on the grid carrying the group element
_GRID_KINDS = (
    "R2Conv",
    "R3Conv",
    "PointwiseAvgPoolAntialiased2D",
    "PointwiseAvgPoolAntialiased3D",
    "PointwiseAvgPool2D",
    "PointwiseAdaptiveAvgPool2D",
    "PointwiseAdaptiveAvgPool3D",
)


def mark_approximate(plan: ArchitecturePlan, note: str) -> None:
    """Say, on every layer that works on the grid, that off-grid elements are approximate."""
    if not note:
        return
    plan.options["grid"] = note
    for layer in plan.layers:
        if layer.kind in _GRID_KINDS:
            layer.why += APPROXIMATE
    plan.decisions.append(
        Decision(
            topic="exactness on the grid",
            choice=note,
            rule="elements off the pixel grid are approximate",
            why="the audit tests the exact elements to float precision and judges the others "
            "against the interpolation error of the input itself (rotate and rotate back)",
        )
    )


#: what a grid-bound layer's reason adds when some group elements are off the grid
APPROXIMATE = (
    " (exact for the elements that map the grid onto itself; approximate, up to interpolation, "
    "for the others)"
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
