"""Expansion of steerable CNNs for continuous planar rotations (SO2, O2 on 2D images, escnn).

SO(2) and O(2) have no finite regular representation: hidden features are built from the irreps
of frequency 0..``MAX_FREQUENCY``. The spec chooses the nonlinearity
(``constraints.nonlinearity``), and the fields and batch norm follow it (:data:`NONLINEARITIES`):

- ``fourier`` (default): ``width`` band-limited regular fields; a Fourier ELU samples each field on
  ``N`` group elements, applies ELU there and projects back (exact for the sampled rotations,
  which include multiples of 90 degrees, approximately equivariant in between);
  ``IIDBatchNorm2d``.
- ``norm``: ``width`` trivial fields and ``width`` copies of each non-trivial irrep; a norm ReLU
  rescales each non-trivial field by a function of its length, with ``NormBatchNorm`` (which
  takes no trivial field), while the trivial fields get ELU and ``IIDBatchNorm2d``: escnn's
  ``MultipleModule`` applies each to its fields.
- ``gated``: ``width`` copies of every irrep, each multiplied by the sigmoid of its own trivial
  gate field, computed by the same convolution; ``GNormBatchNorm`` over gates and fields.

Norm and gated nonlinearities commute with every rotation, not only sampled ones. Downsampling
is an antialiased average; invariant outputs take the norm of each field (``NormPool``) before a
spatial mean and an MLP; dense outputs end in a 1x1 steerable convolution.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from ._gcnn import MIN_POOL_SIZE, POOL_SIGMA, _square_size, antialiased_window
from .plan import ArchitecturePlan, Decision, LayerPlan
from .rules import Rule

__all__ = [
    "expand_steerable",
    "field_irreps",
    "MAX_FREQUENCY",
    "FOURIER_SAMPLES",
    "NONLINEARITIES",
    "Nonlinearity",
]

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
    "NormBatchNorm": "divides each field by the running mean of its squared norm, no mean "
    "subtracted: norms are invariant, so the scaling commutes with the group",
    "NormNonLinearity": "ReLU of each field's norm minus a learned bias, times the field's "
    "direction: the group acts on a field by an orthogonal matrix, which keeps its norm",
    "IIDBatchNorm2d | NormBatchNorm": "trivial fields: one mean and variance per channel; the "
    "others: divided by the running mean of their squared norm, which the group leaves unchanged",
    "ELU | NormNonLinearity": "ELU on the trivial fields (the group leaves them unchanged); on "
    "the others, ReLU of each field's norm minus a learned bias, times the field's direction: "
    "the group acts on a field by an orthogonal matrix, which keeps its norm",
    "GNormBatchNorm": "normalises each irreducible component (a mean only on trivial ones, one "
    "variance per irrep), so the group's action on each component is respected",
    "GatedNonLinearity1": "each field times the sigmoid of its own gate, a trivial field: an "
    "invariant scalar times a field transforms like the field",
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


@dataclass(frozen=True)
class Nonlinearity:
    """A nonlinearity of the steerable family and what goes with it."""

    name: str
    kind: str  # the escnn module
    norm: str  # the batch norm that fits its fields
    fields: str  # what the hidden fields are
    why: str  # why it is equivariant


#: why gated models run in float32 only (escnn 1.0.x; measured: float64 inputs raise in its
#: forward, "Index put requires the source and destination dtypes match")
GATED_FLOAT32 = "escnn's GatedNonLinearity1 builds its output as float32 whatever its input"

NONLINEARITIES: dict[str, Nonlinearity] = {
    "fourier": Nonlinearity(
        "fourier",
        "FourierELU",
        "IIDBatchNorm2d",
        "band-limited regular fields (the irreps of frequency 0..L, as one field)",
        "ELU on the samples commutes with the sampled rotations exactly (they include multiples "
        "of 90 degrees) and approximately with the others; a pointwise ELU on the irreps "
        "themselves would break equivariance",
    ),
    "norm": Nonlinearity(
        "norm",
        "ELU | NormNonLinearity",
        "IIDBatchNorm2d | NormBatchNorm",
        "trivial fields, and one field per non-trivial irrep of frequency up to L (escnn's "
        "NormBatchNorm takes no trivial field, whose sign a norm would drop: the trivial fields "
        "get ELU and IID batch norm instead)",
        "a function of each field's norm scales the field: norms are invariant under every "
        "rotation, so the map is exactly equivariant (no sampling of the group)",
    ),
    "gated": Nonlinearity(
        "gated",
        "GatedNonLinearity1",
        "GNormBatchNorm",
        "one field per irrep of frequency 0..L, each with a trivial gate field that the same "
        "convolution computes",
        "each field is multiplied by the sigmoid of an invariant gate: exactly equivariant "
        "under every rotation (no sampling of the group)",
    ),
}


def field_irreps(kind: str, max_frequency: int, trivial: bool = True) -> list[tuple[int, ...]]:
    """escnn's ids of the irreps of frequency 0..L of SO(2) (``(k,)``) or O(2) (``(0, 0)`` the
    trivial, ``(1, 0)`` the sign irrep, ``(1, k)`` for k >= 1), as ``G.bl_irreps(L)`` lists them."""
    if kind == "so2":
        ids = [(k,) for k in range(max_frequency + 1)]
    else:
        ids = [(0, 0), (1, 0)] + [(1, k) for k in range(1, max_frequency + 1)]
    return ids if trivial else ids[1:]


def _field_labels(choice: str, kind: str, width: int) -> tuple[str, str]:
    """(hidden fields, what the convolutions output) as plan labels."""
    if choice == "fourier":
        hidden = times(width, f"bandlimited({MAX_FREQUENCY})")
        return hidden, hidden
    if choice == "norm":
        hidden = f"{width} x trivial + {times(width, f'nontrivial_irreps({MAX_FREQUENCY})')}"
        return hidden, hidden
    hidden = times(width, f"irreps({MAX_FREQUENCY})")
    gates = width * len(field_irreps(kind, MAX_FREQUENCY))
    return hidden, f"{gates} gates + {hidden}"


def _irrep_id(kind: str, term) -> tuple[int, ...]:
    if term.kind == "trivial":
        return (0,) if kind == "so2" else (0, 0)
    if term.kind == "standard":
        return (1,) if kind == "so2" else (1, 1)
    if term.kind == "irrep":
        return tuple(int(a) for a in term.args)
    raise DesignError(
        f"output.representation: {term.atom!r}: the steerable family's outputs are built from "
        "irreps; use trivial, standard or irrep(k)"
    )


def _check_output_irreps(kind: str, out_repr: str) -> None:
    """Every output irrep must be among the hidden fields' (frequency <= MAX_FREQUENCY): a 1x1
    head maps each irrep only onto itself (Schur)."""
    for irrep in sorted({_irrep_id(kind, t) for t in parse_rep_expr(out_repr)}):
        if irrep[-1] > MAX_FREQUENCY:
            raise DesignError(
                f"output.representation: irrep({','.join(map(str, irrep))}) has frequency "
                f"{irrep[-1]}; the steerable family carries frequencies up to {MAX_FREQUENCY}"
            )


def expand_steerable(spec: Any, rule: Rule) -> ArchitecturePlan:
    group = spec.group_info
    size = _square_size(spec)
    k = spec.constraints.kernel_size
    width, depth = spec.constraints.width, spec.constraints.depth
    choice = NONLINEARITIES[spec.constraints.nonlinearity or "fourier"]
    if choice.name == "gated" and spec.constraints.dtype == "float64":
        raise DesignError(
            f"constraints.dtype: 'float64' with nonlinearity 'gated': {GATED_FLOAT32}, so the "
            "model cannot run in float64; use dtype float32, or nonlinearity fourier or norm"
        )
    hidden, conv_out = _field_labels(choice.name, group.kind, width)
    irreps = field_irreps(group.kind, MAX_FREQUENCY, trivial=choice.name != "norm")
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
            conv_out,
            kernel_size=k,
            stride=1,
            padding=k // 2,
        )
        add(choice.norm, "norm", conv_out, conv_out)
        add(choice.kind, "nonlinearity", conv_out, hidden)
    if dense:
        _check_output_irreps(group.kind, out_repr)
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
    plan.options = {
        "max_frequency": MAX_FREQUENCY,
        "fourier_samples": samples,
        "nonlinearity": choice.name,
    }
    if choice.name == "gated":
        plan.options["float32_only"] = GATED_FLOAT32
    sampled = (
        f"{samples} rotations by {360 / samples:g} degrees"
        if group.kind == "so2"
        else f"{samples} rotations by {360 / samples:g} degrees, with and without the reflection"
    )
    spec_choice = "the spec's choice" if spec.constraints.nonlinearity else "the default"
    plan.decisions += [
        Decision(
            topic="hidden representation",
            choice=f"{hidden}: {choice.fields}"
            + (
                ""
                if choice.name == "fourier"
                else "; per field: " + ", ".join(f"irrep({','.join(map(str, i))})" for i in irreps)
            ),
            rule="band-limited irreps for continuous groups",
            why=f"{group.name} has no finite regular representation; frequencies up to "
            f"{MAX_FREQUENCY} carry orientations and their second harmonics",
        ),
        Decision(
            topic="nonlinearity",
            choice=" on trivial fields, ".join(f"escnn.nn.{k}" for k in choice.kind.split(" | "))
            + (" on the others" if " | " in choice.kind else "")
            + (f" sampled on {sampled}" if choice.name == "fourier" else "")
            + f" ({spec_choice}, constraints.nonlinearity: {choice.name})",
            rule="Fourier / norm / gated nonlinearities on irreps",
            why=choice.why,
        ),
        Decision(
            topic="normalization",
            choice=" on trivial fields, ".join(f"escnn.nn.{k}" for k in choice.norm.split(" | "))
            + (" on the others" if " | " in choice.norm else ""),
            rule="no plain BatchNorm over non-trivial fields; the batch norm that fits the "
            "nonlinearity's fields",
            why=WHY[choice.norm],
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
    mark_approximate(plan, grid_note(spec.group_info, spec.domain))
    return plan
