"""Static checks on a plan, before any code is written. Each one repairs the plan (and records an
:class:`~.plan.Adjustment` saying why) or refuses it with a :class:`~equidesign.errors.DesignError`.

1. ``kernels``: kernels are odd (a centre pixel that rotations keep on the grid).
2. ``plain layers``: no plain BatchNorm, Linear or Conv over non-trivial fields.
3. ``nonlinearities``: pointwise nonlinearities only on representations that allow them
   (escnn's ``supported_nonlinearities`` contains ``pointwise``: permutation representations).
4. ``permutation layers``: pointwise max pooling, group pooling (a max over each field's
   channels) and per-field batch norm that shares statistics over a field's channels
   (``InnerBatchNorm``) only on permutation representations; on other fields, escnn's norm-based
   or IID counterparts.
5. ``parity``: every strided or pooling step sees a size that fits its window:
   ``(size + 2 padding - window)`` must be a multiple of the stride, or its sampling grid is not
   centred and rotations move it (an odd window needs an odd size, a 2x2 pool an even one).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import DesignError, RepresentationError
from ..groups import GroupInfo, non_permutation_atoms, parse_rep_expr
from ._gcnn import POOL_SIGMA, antialiased_window
from .plan import Adjustment, ArchitecturePlan, LayerPlan

__all__ = [
    "CHECKS",
    "run_checks",
    "recompute_sizes",
    "POINTWISE_KINDS",
    "check_permutation_layers",
]

POINTWISE_KINDS = {"ReLU", "ELU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU"}
_PLAIN_REPLACEMENTS = {
    # plain kind -> (replacement on regular fields, on other fields, on vectors)
    "BatchNorm2d": ("InnerBatchNorm", "IIDBatchNorm2d", None),
    "BatchNorm1d": (None, None, "eBatchNorm1d"),
    "Linear": (None, None, "eLinear"),
    "Conv2d": ("R2Conv", "R2Conv", None),
    "BatchNorm3d": ("InnerBatchNorm", "IIDBatchNorm3d", None),
    "Conv3d": ("R3Conv", "R3Conv", None),
}
#: pointwise max pools -> the counterpart on fields that are no permutation representation
_MAX_POOLS = {
    "PointwiseMaxPool2D": "NormMaxPool",
    "PointwiseMaxPoolAntialiased2D": "NormMaxPool",
    "PointwiseMaxPool3D": "PointwiseAvgPoolAntialiased3D",
    "PointwiseMaxPoolAntialiased3D": "PointwiseAvgPoolAntialiased3D",
}
_AVG_POOLS = {
    "PointwiseAvgPoolAntialiased2D",
    "PointwiseAvgPool2D",
    "PointwiseAvgPoolAntialiased3D",
    "PointwiseAvgPool3D",
}


def _is_trivial(expr: str) -> bool:
    return all(t.atom == "trivial" for t in parse_rep_expr(expr))


def _is_regular(expr: str) -> bool:
    return all(t.atom in ("regular", "trivial") for t in parse_rep_expr(expr))


def check_kernels(plan: ArchitecturePlan, group: GroupInfo) -> list[Adjustment]:
    out = []
    for layer in plan.layers:
        k = layer.kernel_size
        if layer.kind in ("R2Conv", "Conv2d", "R3Conv", "Conv3d") and k is not None and k % 2 == 0:
            layer.kernel_size, layer.padding = k + 1, (k + 1) // 2
            out.append(
                Adjustment(
                    check="kernels",
                    what=f"{layer.name}: kernel {k}x{k} -> {k + 1}x{k + 1}, padding {k // 2} -> "
                    f"{(k + 1) // 2}",
                    why="an even kernel has no centre pixel: rotating about the image centre "
                    "moves it off the grid",
                )
            )
    if plan.kernel_size is not None and plan.kernel_size % 2 == 0:
        plan.kernel_size += 1
    return out


_ESCNN_DOMAINS = ("image2d", "image3d", "vector")  # plans whose representations are escnn's


def check_plain_layers(plan: ArchitecturePlan, group: GroupInfo) -> list[Adjustment]:
    if plan.domain not in _ESCNN_DOMAINS:
        return []
    out = []
    vectors = plan.domain == "vector"
    for layer in plan.layers:
        if layer.kind not in _PLAIN_REPLACEMENTS:
            continue
        # a plain conv's filters see the grid, which the group moves, whatever the fields; a
        # plain map between invariant features is fine
        spatial = layer.kind.startswith("Conv")
        if not spatial and _is_trivial(layer.in_repr) and _is_trivial(layer.out_repr):
            continue
        regular, other, vec = _PLAIN_REPLACEMENTS[layer.kind]
        new = vec if vectors else (regular if _is_regular(layer.in_repr) else other)
        if new is None:
            raise DesignError(
                f"layer {layer.name}: plain {layer.kind} over [{layer.in_repr}] breaks "
                f"equivariance and has no equivariant counterpart on {plan.domain}; remove it"
            )
        out.append(
            Adjustment(
                check="plain layers",
                what=f"{layer.name}: {layer.kind} -> {new}",
                why=(
                    f"a plain {layer.kind}'s filters are not constrained: rotating the input does "
                    f"not rotate its output; {new} solves the kernel constraint"
                )
                if spatial
                else f"a plain {layer.kind} treats each channel of [{layer.in_repr}] on its own; "
                f"{new} respects how the group mixes them",
            )
        )
        layer.kind = new
    return out


def check_nonlinearities(plan: ArchitecturePlan, group: GroupInfo) -> list[Adjustment]:
    if plan.domain not in _ESCNN_DOMAINS:
        return []  # permutations and e3nn irreps: the families apply nonlinearities by design
    out = []
    for layer in plan.layers:
        if layer.kind not in POINTWISE_KINDS:
            continue
        bad = non_permutation_atoms(group, layer.in_repr)  # escnn's 'pointwise', without escnn
        if not bad:
            continue
        if plan.domain != "image2d":
            raise DesignError(
                f"layer {layer.name}: pointwise {layer.kind} on [{layer.in_repr}] is not "
                f"equivariant ({', '.join(bad)} are not permutation representations); use "
                "regular hidden representations"
            )
        out.append(
            Adjustment(
                check="nonlinearities",
                what=f"{layer.name}: {layer.kind} -> NormNonLinearity (n_relu)",
                why=f"{', '.join(bad)} are not permutation representations: a pointwise "
                f"{layer.kind} would break equivariance; a norm nonlinearity scales each field by "
                "a function of its (invariant) norm",
            )
        )
        layer.kind = "NormNonLinearity"
        layer.why = "acts on each field's norm, which the group leaves unchanged"
    return out


def _not_permutation(group: GroupInfo, expr: str) -> list[str]:
    """The atoms of ``expr`` that are no permutation representation; a plan label that is no
    representation expression (band-limited fields of continuous groups) counts as one."""
    try:
        return non_permutation_atoms(group, expr)
    except RepresentationError:
        return [expr]


def _one_trivial_per_field(expr: str) -> str:
    fields = sum(t.count for t in parse_rep_expr(expr))
    return "trivial" if fields == 1 else f"{fields} x trivial"


def _retype_after(plan: ArchitecturePlan, layer: LayerPlan, out_repr: str) -> None:
    """Give ``layer`` a new output, and the layers after it that read the old one the new one."""
    old = layer.out_repr
    after = plan.layers[plan.layers.index(layer) + 1 :]
    layer.out_repr = out_repr
    for later in after:
        if later.in_repr != old:
            break
        later.in_repr = out_repr
        if later.out_repr == old:
            later.out_repr = out_repr


def check_permutation_layers(plan: ArchitecturePlan, group: GroupInfo) -> list[Adjustment]:
    if plan.domain not in ("image2d", "image3d"):
        return []
    out = []
    for layer in plan.layers:
        if layer.kind not in _MAX_POOLS and layer.kind not in ("GroupPooling", "InnerBatchNorm"):
            continue
        bad = _not_permutation(group, layer.in_repr)
        if not bad:
            continue
        old = layer.kind
        if old == "InnerBatchNorm":
            layer.kind = "IIDBatchNorm3d" if plan.domain == "image3d" else "IIDBatchNorm2d"
            layer.why = "one statistic per field, shared by its components"
            why = (
                "InnerBatchNorm treats a field's channels alike, which is right only when the "
                "group permutes them; IID batch norm normalises each field as a whole"
            )
        elif old == "GroupPooling":
            layer.kind = "NormPool"
            _retype_after(plan, layer, _one_trivial_per_field(layer.in_repr))
            layer.why = "the norm of each field: the group acts on a field by an orthogonal matrix"
            why = (
                "a max over a field's channels is invariant only when the group permutes them; "
                "the norm of each field is invariant for any orthogonal action"
            )
        else:
            layer.kind = _MAX_POOLS[old]
            if layer.kind == "NormMaxPool":
                layer.why = "in each window, the field with the largest norm: norms are invariant"
            else:
                window = antialiased_window()
                layer.kernel_size, layer.padding, layer.sigma = window, window // 2, POOL_SIGMA
                layer.why = "a linear, centred blur-and-subsample: it commutes with any field type"
            why = (
                "a pointwise max commutes with the group only when it permutes the channels; "
                f"{layer.kind} does not look at single channels"
            )
        out.append(
            Adjustment(
                check="permutation layers",
                what=f"{layer.name}: {old} -> {layer.kind}",
                why=f"[{layer.in_repr}]: {', '.join(bad)} are not permutation representations: {why}",
            )
        )
    return out


def _out_size(layer: LayerPlan, n: int) -> int:
    if layer.kind.startswith("PointwiseAdaptiveAvgPool"):
        return 1
    if layer.stride and layer.stride > 1:
        k = layer.kernel_size or 1
        return (n + 2 * (layer.padding or 0) - k) // layer.stride + 1
    return n


def recompute_sizes(plan: ArchitecturePlan) -> None:
    """Propagate spatial sizes through the plan after a repair."""
    if not plan.input_size:
        return
    n = plan.input_size[0]
    for layer in plan.layers:
        if layer.in_size is None:
            continue
        axes = len(layer.in_size)  # 2 (images) or 3 (voxels)
        layer.in_size = [n] * axes
        n = _out_size(layer, n)
        layer.out_size = [n] * axes


def _fits(n: int, k: int, s: int, p: int) -> bool:
    return (n + 2 * p - k) % s == 0


def check_parity(plan: ArchitecturePlan, group: GroupInfo) -> list[Adjustment]:
    out = []
    recompute_sizes(plan)
    for i, layer in enumerate(plan.layers):
        if not layer.stride or layer.stride <= 1 or layer.in_size is None:
            continue
        n, k, s, p = layer.in_size[0], layer.kernel_size or 1, layer.stride, layer.padding or 0
        if _fits(n, k, s, p):
            continue
        old = f"{layer.kind} (window {k}, padding {p})"
        if layer.kind in _AVG_POOLS and (
            _fits(n, antialiased_window(), s, antialiased_window() // 2) or n % s == 0
        ):
            dim = layer.kind[-2:]  # 2D or 3D
            window = antialiased_window()
            if _fits(n, window, s, window // 2):  # an odd, centred, blurred window
                layer.kind, layer.kernel_size, layer.padding, layer.sigma = (
                    f"PointwiseAvgPoolAntialiased{dim}",
                    window,
                    window // 2,
                    POOL_SIGMA,
                )
                need = "an odd window centred on every stride-th pixel"
            else:  # windows that tile the grid: kernel = stride on a size divisible by it
                layer.kind, layer.kernel_size, layer.padding, layer.sigma = (
                    f"PointwiseAvgPool{dim}",
                    s,
                    0,
                    None,
                )
                need = f"a {s}x{s} window tiling the grid (size divisible by {s})"
            from ._common import APPROXIMATE
            from ._gcnn import WHY

            base = WHY.get(layer.kind, "a linear, centred average over each window")
            layer.why = base + (APPROXIMATE if plan.options.get("grid") else "")
            out.append(
                Adjustment(
                    check="parity",
                    what=f"{layer.name}: size {n}: {old} -> {layer.kind} (window "
                    f"{layer.kernel_size}, padding {layer.padding})",
                    why=f"(size + 2 padding - window) = {n + 2 * p - k} is not a multiple of "
                    f"the stride {s}: the windows would not be centred and rotations would move "
                    f"the sampling grid; size {n} takes {need}",
                )
            )
            recompute_sizes(plan)
            continue
        good = [m for m in (n - 1, n + 1) if _fits(m, k, s, p)]
        raise DesignError(
            f"layer {plan.layers[i].name}: a stride-{s} {layer.kind} with window {k} and padding "
            f"{p} on size {n} is not centred, so rotations move its sampling grid; use an input "
            f"size that gives {good[0] if good else 'a fitting size'} here"
        )
    return out


CHECKS: tuple[tuple[str, Callable[[ArchitecturePlan, GroupInfo], list[Adjustment]]], ...] = (
    ("kernels", check_kernels),
    ("plain layers", check_plain_layers),
    ("nonlinearities", check_nonlinearities),
    ("permutation layers", check_permutation_layers),
    ("parity", check_parity),
)


def run_checks(plan: ArchitecturePlan, group: GroupInfo) -> ArchitecturePlan:
    """Run every check in order; repairs are recorded in ``plan.adjustments``."""
    for _, check in CHECKS:
        plan.adjustments.extend(check(plan, group))
    return plan
