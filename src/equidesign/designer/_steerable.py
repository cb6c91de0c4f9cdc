"""Expansion of steerable CNNs for continuous planar rotations (SO2, O2 on 2D images, escnn).

SO(2) and O(2) have no finite regular representation. Hidden features are ``width`` copies of
the band-limited regular representation (irreps of frequency 0..``MAX_FREQUENCY``); a Fourier
nonlinearity samples each field on ``N`` group elements, applies ELU there and projects back
(exact for the sampled rotations, which include multiples of 90 degrees, and approximately
equivariant in between). Batch norm is per field (``IIDBatchNorm2d``); downsampling is an
antialiased average; invariant outputs take the norm of each field (``NormPool``) before a
spatial mean and an MLP; dense outputs end in a 1x1 steerable convolution.
"""

from __future__ import annotations

from typing import Any

from ..groups import parse_rep_expr
from ._common import (
    base_plan,
    format_terms,
    output_decision,
    output_dim,
    per_output,
    rep_size,
    times,
)
from ._gcnn import MIN_POOL_SIZE, POOL_SIGMA, _square_size, antialiased_window
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = ["expand_steerable", "MAX_FREQUENCY", "FOURIER_SAMPLES"]

MAX_FREQUENCY = 2
#: group elements the Fourier nonlinearity samples: SO(2) rotations by 360/16 degrees; O(2)
#: rotations by 45 degrees, each with and without the reflection (16 elements either way)
FOURIER_SAMPLES = {"so2": 16, "o2": 8}

WHY = {
    "R2Conv": "R2Conv solves the kernel constraint for SO(2)/O(2): band-limited steerable "
    "filters (circular harmonics times radial profiles)",
    "IIDBatchNorm2d": "one statistic per field, shared by its components, so the group's "
    "mixing of them is respected",
    "FourierELU": "samples each band-limited field on N rotations, applies ELU there (a "
    "permutation of the samples commutes with it) and projects back to the irreps",
    "PointwiseAvgPoolAntialiased2D": "a linear, centred blur-and-subsample: it commutes with "
    "any field type when the window is centred",
    "PointwiseAvgPool2D": "a 2x2 window on an even size: its windows tile the grid "
    "symmetrically about the centre",
    "NormPool": "the norm of each field: rotations (and reflections) act on a field by an "
    "orthogonal matrix, which leaves its norm unchanged",
    "PointwiseAdaptiveAvgPool2D": "mean over the grid: invariant to rotations of the grid",
    "InvariantHead": "a plain MLP on invariant features: any map between trivial "
    "representations commutes with the group",
}


def expand_steerable(spec: Any, rule: Rule) -> ArchitecturePlan:
    group = spec.group_info
    size = _square_size(spec)
    k = spec.constraints.kernel_size
    width, depth = spec.constraints.width, spec.constraints.depth
    hidden = times(width, f"bandlimited({MAX_FREQUENCY})")
    in_repr = format_terms(parse_rep_expr(spec.input.representation))
    dense = spec.task.kind == "segmentation"
    if dense:  # one copy of output.representation per class
        out_repr = per_output(spec)
        out_dim = rep_size(group, out_repr)
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
        add("IIDBatchNorm2d", "norm", hidden, hidden)
        add("FourierELU", "nonlinearity", hidden, hidden)
    if dense:
        add("R2Conv", "head", hidden, out_repr, name="head", kernel_size=1, stride=1, padding=0)
        layers[-1].why = "a 1x1 steerable convolution: a per-pixel equivariant linear map"
    else:
        pooled = times(width, "trivial")
        add("NormPool", "invariant pooling", hidden, pooled, name="norm_pool")
        add("PointwiseAdaptiveAvgPool2D", "spatial pooling", pooled, pooled, name="spatial_pool")
        layers[-1].out_size = [1, 1]
        add("InvariantHead", "head", pooled, out_repr, name="head", features=max(16, 2 * width))
        layers[-1].in_size = layers[-1].out_size = None
    plan.layers = layers
    samples = FOURIER_SAMPLES[group.kind]
    plan.options = {"max_frequency": MAX_FREQUENCY, "fourier_samples": samples}
    sampled = (
        f"{samples} rotations by {360 / samples:g} degrees"
        if group.kind == "so2"
        else f"{samples} rotations by {360 / samples:g} degrees, with and without the reflection"
    )
    plan.decisions += [
        Decision(
            topic="hidden representation",
            choice=f"{hidden}: {width} fields of the irreps of frequency 0..{MAX_FREQUENCY}",
            rule="band-limited irreps for continuous groups",
            why=f"{group.name} has no finite regular representation; frequencies up to "
            f"{MAX_FREQUENCY} carry orientations and their second harmonics",
        ),
        Decision(
            topic="nonlinearity",
            choice=f"escnn.nn.FourierELU sampled on {sampled}",
            rule="Fourier / norm / gated nonlinearities on irreps",
            why="ELU on the samples commutes with the sampled rotations exactly (they include "
            "multiples of 90 degrees) and approximately with the others; a pointwise ELU on the "
            "irreps themselves would break equivariance",
        ),
        Decision(
            topic="normalization",
            choice="escnn.nn.IIDBatchNorm2d",
            rule="no plain BatchNorm over non-trivial fields",
            why="one statistic per field, shared by the components the group mixes",
        ),
        Decision(
            topic="output",
            choice=(
                f"per-pixel [{out_repr}] from a 1x1 steerable convolution, full resolution"
                if dense
                else "NormPool, then the mean over the grid, then a plain MLP head"
            ),
            rule="segmentation: preserve equivariance to the output"
            if dense
            else "encoder-pooling topology for invariant outputs",
            why="no downsampling: the output grid rotates with the input grid"
            if dense
            else "field norms are invariant; after the spatial mean any map is allowed",
        ),
    ]
    if dense:
        plan.decisions.append(output_decision(spec, out_repr))
    return plan
