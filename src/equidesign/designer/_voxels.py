"""Expansion of 3D steerable CNNs on voxel grids (SO3, O3, octahedral, icosahedral; escnn).

Finite groups (octahedral, icosahedral and their versions with the inversion) use regular fields
with pointwise ReLU and per-field batch norm, and ``GroupPooling`` for invariants, like the
planar G-CNN. SO(3) and O(3) have no finite regular representation: their hidden fields are
band-limited (irreps up to ``MAX_FREQUENCY``) with a Fourier ELU sampled on the 24 rotations
of the cube (``thomson_cube``, with the inversion for O(3)), so the nonlinearity is exact on the
rotations the voxel grid carries; invariants are field norms (``NormPool``).
"""

from __future__ import annotations

from typing import Any

from ..errors import DesignError
from ..groups import parse_rep_expr
from ._common import (
    base_plan,
    format_terms,
    grid_note,
    mark_approximate,
    output_decision,
    output_dim,
    per_output,
    rep_size,
    times,
)
from ._gcnn import MIN_POOL_SIZE, POOL_SIGMA, antialiased_window
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_voxels", "MAX_FREQUENCY"]

MAX_FREQUENCY = 1
_CONTINUOUS = {"so3", "o3"}

WHY = {
    "R3Conv": "R3Conv solves the kernel constraint: its 3D filters commute with the group "
    "acting on the grid and on the fields",
    "InnerBatchNorm": "one mean and variance per regular field, shared by the channels the "
    "group permutes",
    "IIDBatchNorm3d": "one statistic per field, shared by its components, so the group's "
    "mixing of them is respected",
    "ReLU": "regular fields: the group permutes their channels, and a pointwise map commutes "
    "with permutations",
    "FourierELU": "samples each band-limited field on the 24 rotations of the cube, applies "
    "ELU there and projects back: exact on those rotations",
    "PointwiseAvgPoolAntialiased3D": "a linear, centred blur-and-subsample: it commutes with "
    "any field type when the window is centred",
    "GroupPooling": "max over each regular field's channels: invariant to their permutation",
    "NormPool": "the norm of each field: the group acts on a field by an orthogonal matrix",
    "PointwiseAdaptiveAvgPool3D": "mean over the grid: invariant to rotations of the grid",
    "InvariantHead": "a plain MLP on invariant features: any map between trivial "
    "representations commutes with the group",
}


def _cube_size(spec: Any) -> int:
    size = spec.input.size
    if isinstance(size, list):
        if len(set(size)) != 1:
            raise DesignError(
                f"input.size: {size} is not a cube; rotations of the voxel grid map it onto "
                f"itself only when all sides are equal: use e.g. size: {max(size)}"
            )
        size = size[0]
    return int(size)


def expand_voxels(spec: Any, rule: Rule) -> ArchitecturePlan:
    group = spec.group_info
    if group.kind == "tetra":
        raise DesignError(
            "group: tetrahedral has no escnn space on voxel grids; use octahedral (which "
            "contains its rotations) or SO3"
        )
    continuous = group.kind in _CONTINUOUS
    size = _cube_size(spec)
    k = spec.constraints.kernel_size
    width, depth = spec.constraints.width, spec.constraints.depth
    hidden = times(width, f"bandlimited({MAX_FREQUENCY})" if continuous else "regular")
    in_repr = format_terms(parse_rep_expr(spec.input.representation))
    dense = spec.task.kind == "segmentation"
    if dense:  # one copy of output.representation per class
        out_repr = per_output(spec)
        out_dim = rep_size(group, out_repr)
    else:
        out_dim = output_dim(spec)
        out_repr = times(out_dim, "trivial")
    plan = base_plan(spec, rule, output_repr=out_repr, out_dim=out_dim, extra={"kernel_size": k})
    plan.input_size = [size, size, size]
    norm, act = ("IIDBatchNorm3d", "FourierELU") if continuous else ("InnerBatchNorm", "ReLU")
    layers: list[LayerPlan] = []
    cur = size

    def add(kind, role, in_r, out_r, **kw):
        name = f"features.{sum(1 for layer in layers if layer.name.startswith('features.'))}"
        layers.append(
            LayerPlan(
                name=kw.pop("name", name),
                kind=kind,
                role=role,
                in_repr=in_r,
                out_repr=out_r,
                in_size=[cur] * 3,
                out_size=[cur] * 3,
                why=WHY.get(kind, ""),
                **kw,
            )
        )

    for block in range(depth):
        if block > 0 and not dense and cur >= MIN_POOL_SIZE:
            window = antialiased_window()
            add(
                "PointwiseAvgPoolAntialiased3D",
                "downsample",
                hidden,
                hidden,
                kernel_size=window,
                stride=2,
                padding=window // 2,
                sigma=POOL_SIGMA,
            )
            cur = (cur + 2 * (window // 2) - window) // 2 + 1
            layers[-1].out_size = [cur] * 3
        add(
            "R3Conv",
            "lift" if block == 0 else "conv",
            in_repr if block == 0 else hidden,
            hidden,
            kernel_size=k,
            stride=1,
            padding=k // 2,
        )
        add(norm, "norm", hidden, hidden)
        add(act, "nonlinearity", hidden, hidden)
    if dense:
        add("R3Conv", "head", hidden, out_repr, name="head", kernel_size=1, stride=1, padding=0)
        layers[-1].why = "a 1x1x1 steerable convolution: a per-voxel equivariant linear map"
    else:
        pooled = times(width, "trivial")
        pool_kind = "NormPool" if continuous else "GroupPooling"
        add(pool_kind, "invariant pooling", hidden, pooled, name="invariant_pool")
        add("PointwiseAdaptiveAvgPool3D", "spatial pooling", pooled, pooled, name="spatial_pool")
        layers[-1].out_size = [1, 1, 1]
        add("InvariantHead", "head", pooled, out_repr, name="head", features=max(16, 2 * width))
        layers[-1].in_size = layers[-1].out_size = None
    plan.layers = layers
    plan.options = {"continuous": continuous, "max_frequency": MAX_FREQUENCY}
    plan.decisions += _decisions(group, hidden, continuous, dense, out_repr)
    if dense:
        plan.decisions.append(output_decision(spec, out_repr))
    mark_approximate(plan, grid_note(spec.group_info, spec.domain))
    return plan


def _decisions(group, hidden: str, continuous: bool, dense: bool, out_repr: str) -> list:
    if continuous:
        fields = Decision(
            topic="hidden representation",
            choice=f"{hidden}: irreps of degree 0..{MAX_FREQUENCY} per field",
            rule="band-limited irreps for continuous groups",
            why=f"{group.name} has no finite regular representation",
        )
        nonlinearity = Decision(
            topic="nonlinearity",
            choice="escnn.nn.FourierELU on the 24 rotations of the cube (thomson_cube, N=1)"
            + (", with the inversion" if group.kind == "o3" else ""),
            rule="Fourier / norm / gated nonlinearities on irreps",
            why="exact on the rotations the voxel grid carries, approximate in between; a "
            "pointwise ELU on the irreps would break equivariance",
        )
    else:
        fields = Decision(
            topic="hidden representation",
            choice=f"{hidden} ({group.order} channels per field)",
            rule="layer pattern: regular fields for finite groups",
            why="the group permutes a regular field's channels, so pointwise ReLU and per-field "
            "batch norm stay exact",
        )
        nonlinearity = Decision(
            topic="nonlinearity",
            choice="escnn.nn.ReLU on regular fields",
            rule="pointwise nonlinearities only on permutation representations",
            why="escnn lists 'pointwise' among the regular representation's nonlinearities",
        )
    output = Decision(
        topic="output",
        choice=f"per-voxel [{out_repr}] from a 1x1x1 steerable convolution"
        if dense
        else f"{'NormPool' if continuous else 'GroupPooling'}, the mean over the grid, an MLP",
        rule="segmentation: preserve equivariance to the output"
        if dense
        else "encoder-pooling topology for invariant outputs",
        why="no downsampling: the output grid rotates with the input grid"
        if dense
        else "pooled fields are invariant; after the spatial mean any map is allowed",
    )
    return [fields, nonlinearity, output]
