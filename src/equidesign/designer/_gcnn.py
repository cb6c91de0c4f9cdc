"""Expansion of the regular-field G-CNN family (C_n, D_n on 2D images, escnn).

The expansion is deliberately plain: every downsampling step is an antialiased average pool with
an odd window. The static checks (:mod:`.checks`) then look at the size each step actually sees
and switch to a 2x2 pool where the size is even, recording why.
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
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_gcnn", "POOL_SIGMA", "antialiased_window", "MIN_POOL_SIZE"]

POOL_SIGMA = 0.66
MIN_POOL_SIZE = 12  # downsample only while the map is at least this big


def antialiased_window(sigma: float = POOL_SIGMA) -> int:
    """escnn's PointwiseAvgPoolAntialiased2D blur window for ``sigma``."""
    return 2 * int(round(3 * sigma)) + 1


WHY = {
    "R2Conv": "R2Conv solves the kernel constraint: its filters commute with the group acting "
    "on the grid and on the fields",
    "InnerBatchNorm": "one mean and variance per regular field, shared by the channels the "
    "group permutes",
    "ReLU": "regular fields: the group permutes their channels, and a pointwise map commutes "
    "with permutations",
    "PointwiseAvgPoolAntialiased2D": "an odd, centred window: rotations map centred windows "
    "to centred windows when (size + 2 padding - window) is a multiple of the stride",
    "PointwiseAvgPool2D": "a 2x2 window on an even size: its windows tile the grid "
    "symmetrically about the centre",
    "GroupPooling": "max over each regular field's channels: invariant to their permutation",
    "PointwiseAdaptiveAvgPool2D": "mean over the grid: invariant to rotations and flips of the "
    "grid",
    "InvariantHead": "a plain MLP on invariant features: any map between trivial "
    "representations commutes with the group",
}


def _square_size(spec: Any) -> int:
    size = spec.input.size
    if size is None:
        raise DesignError("input.size: images need a size; add e.g. 'size: 29' under input")
    if isinstance(size, list):
        if len(size) != 2 or size[0] != size[1]:
            raise DesignError(
                f"input.size: {size} is not square; rotations by 90 degrees map the pixel grid "
                f"onto itself only for square images: use e.g. size: {max(size)}"
            )
        size = size[0]
    return int(size)


def expand_gcnn(spec: Any, rule: Rule) -> ArchitecturePlan:
    size = _square_size(spec)
    k = spec.constraints.kernel_size
    width, depth = spec.constraints.width, spec.constraints.depth
    hidden = times(width, "regular")
    in_repr = format_terms(parse_rep_expr(spec.input.representation))
    dense = spec.task.kind == "segmentation"
    if dense:  # one copy of output.representation per class
        out_repr = per_output(spec)
        out_dim = rep_size(spec.group_info, out_repr)
    else:
        out_dim = output_dim(spec)
        out_repr = times(out_dim, "trivial")
    plan = base_plan(spec, rule, output_repr=out_repr, out_dim=out_dim, extra={"kernel_size": k})
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
                in_size=[cur, cur],
                out_size=[cur, cur],
                why=WHY.get(kind, ""),
                **kw,
            )
        )

    for block in range(depth):
        if block > 0 and not dense and cur >= MIN_POOL_SIZE:
            window = antialiased_window()
            add(
                "PointwiseAvgPoolAntialiased2D",
                "downsample",
                hidden,
                hidden,
                kernel_size=window,
                stride=2,
                padding=window // 2,
                sigma=POOL_SIGMA,
            )
            cur = (cur + 2 * (window // 2) - window) // 2 + 1
            layers[-1].out_size = [cur, cur]
        add(
            "R2Conv",
            "lift" if block == 0 else "conv",
            in_repr if block == 0 else hidden,
            hidden,
            kernel_size=k,
            stride=1,
            padding=k // 2,
        )
        add("InnerBatchNorm", "norm", hidden, hidden)
        add("ReLU", "nonlinearity", hidden, hidden)
    if dense:
        add("R2Conv", "head", hidden, out_repr, name="head", kernel_size=1, stride=1, padding=0)
        layers[-1].why = "a 1x1 steerable convolution: a per-pixel equivariant linear map"
    else:
        pooled = times(width, "trivial")
        add("GroupPooling", "invariant pooling", hidden, pooled, name="group_pool")
        add("PointwiseAdaptiveAvgPool2D", "spatial pooling", pooled, pooled, name="spatial_pool")
        layers[-1].out_size = [1, 1]
        add("InvariantHead", "head", pooled, out_repr, name="head", features=max(16, 2 * width))
        layers[-1].in_size = layers[-1].out_size = None
    plan.layers = layers
    plan.decisions += _decisions(spec, hidden, dense, out_repr)
    mark_approximate(plan, grid_note(spec.group_info, spec.domain))
    return plan


def _decisions(spec, hidden: str, dense: bool, out_repr: str) -> list[Decision]:
    n = spec.group_info.order
    decisions = [
        Decision(
            topic="hidden representation",
            choice=f"{hidden} ({spec.constraints.width} fields of {n} channels)",
            rule="layer pattern: regular fields for finite groups",
            why="the group permutes a regular field's channels, so pointwise ReLU and "
            "per-field batch norm stay exact",
        ),
        Decision(
            topic="nonlinearity",
            choice="escnn.nn.ReLU on regular fields",
            rule="pointwise nonlinearities only on permutation representations",
            why="escnn lists 'pointwise' among the regular representation's supported "
            "nonlinearities",
        ),
        Decision(
            topic="normalization",
            choice="escnn.nn.InnerBatchNorm",
            rule="no plain BatchNorm over non-trivial fields",
            why="statistics and affine weights are shared within each field",
        ),
        Decision(
            topic="kernel",
            choice=f"{spec.constraints.kernel_size}x{spec.constraints.kernel_size}, padding "
            f"{spec.constraints.kernel_size // 2}",
            rule="odd kernels",
            why="an odd kernel has a centre pixel, so rotations about the centre keep it on the "
            "grid and the map keeps its size",
        ),
    ]
    if dense:
        decisions.append(
            Decision(
                topic="output",
                choice=f"per-pixel field [{out_repr}] at full resolution",
                rule="segmentation: preserve equivariance to the output",
                why="no downsampling: the output grid is the input grid, so the output rotates "
                "with the input",
            )
        )
        decisions.append(output_decision(spec, out_repr))
    else:
        decisions.append(
            Decision(
                topic="invariant pooling",
                choice="GroupPooling, then the mean over the grid, then a plain MLP head",
                rule="encoder-pooling topology for invariant outputs",
                why="pooling over the group and the grid gives invariants; after that any map is "
                "allowed",
            )
        )
    return decisions
