"""Static checks on a plan, before any code is written. Each one repairs the plan (and records an
:class:`~.plan.Adjustment` saying why) or refuses it with a :class:`~equidesign.errors.DesignError`.

1. ``kernels``: kernels are odd (a centre pixel that rotations keep on the grid).
2. ``plain layers``: no plain BatchNorm, Linear or Conv over non-trivial fields.
3. ``nonlinearities``: pointwise nonlinearities only on representations that allow them
   (escnn's ``supported_nonlinearities`` contains ``pointwise``: permutation representations).
4. ``parity``: every strided or pooling step sees a size that fits its window:
   ``(size + 2 padding - window)`` must be a multiple of the stride, or its sampling grid is not
   centred and rotations move it (an odd window needs an odd size, a 2x2 pool an even one).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import DesignError
from ..groups import GroupInfo, non_permutation_atoms, parse_rep_expr
from ._gcnn import POOL_SIGMA, antialiased_window
from .plan import Adjustment, ArchitecturePlan, LayerPlan

__all__ = ["CHECKS", "run_checks", "recompute_sizes", "POINTWISE_KINDS"]

POINTWISE_KINDS = {"ReLU", "ELU", "LeakyReLU", "Tanh", "Sigmoid", "GELU", "SiLU"}
_PLAIN_REPLACEMENTS = {
    # plain kind -> (replacement on regular fields, on other fields, on vectors)
    "BatchNorm2d": ("InnerBatchNorm", "IIDBatchNorm2d", None),
    "BatchNorm1d": (None, None, "eBatchNorm1d"),
    "Linear": (None, None, "eLinear"),
    "Conv2d": ("R2Conv", "R2Conv", None),
}


def _is_trivial(expr: str) -> bool:
    return all(t.atom == "trivial" for t in parse_rep_expr(expr))


def _is_regular(expr: str) -> bool:
    return all(t.atom in ("regular", "trivial") for t in parse_rep_expr(expr))


def check_kernels(plan: ArchitecturePlan, group: GroupInfo) -> list[Adjustment]:
    out = []
    for layer in plan.layers:
        k = layer.kernel_size
        if layer.kind in ("R2Conv", "Conv2d") and k is not None and k % 2 == 0:
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
        if layer.kind not in _PLAIN_REPLACEMENTS or _is_trivial(layer.in_repr):
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
                why=f"a plain {layer.kind} treats each channel of [{layer.in_repr}] on its own; "
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
        if layer.kind in ("PointwiseAvgPoolAntialiased2D", "PointwiseAvgPool2D"):
            if n % 2 == 0:
                layer.kind, layer.kernel_size, layer.padding, layer.sigma = (
                    "PointwiseAvgPool2D",
                    2,
                    0,
                    None,
                )
            else:
                window = antialiased_window()
                layer.kind, layer.kernel_size, layer.padding, layer.sigma = (
                    "PointwiseAvgPoolAntialiased2D",
                    window,
                    window // 2,
                    POOL_SIGMA,
                )
            from ._common import APPROXIMATE
            from ._gcnn import WHY

            layer.why = WHY[layer.kind] + (APPROXIMATE if plan.options.get("grid") else "")
            out.append(
                Adjustment(
                    check="parity",
                    what=f"{layer.name}: size {n}: {old} -> {layer.kind} (window "
                    f"{layer.kernel_size}, padding {layer.padding})",
                    why=f"(size + 2 padding - window) = {n + 2 * p - k} is not a multiple of "
                    f"the stride {s}: the windows would not be centred and rotations would move "
                    f"the sampling grid; {'an even size needs an even (2x2) window' if n % 2 == 0 else 'an odd size needs an odd window'}",
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
    ("parity", check_parity),
)


def run_checks(plan: ArchitecturePlan, group: GroupInfo) -> ArchitecturePlan:
    """Run every check in order; repairs are recorded in ``plan.adjustments``."""
    for _, check in CHECKS:
        plan.adjustments.extend(check(plan, group))
    return plan
