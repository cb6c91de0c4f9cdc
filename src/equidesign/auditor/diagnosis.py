"""Diagnosis: from measured errors to findings (kind, title, location, severity, fix) and a verdict.

Finding kinds: ``nonlinearity``, ``normalization``, ``unconstrained_layer``, ``custom_layer``,
``boundary``, ``output_type``, ``precision``, ``gradient``, ``interpolation``, ``untested``,
``harness`` and ``layer`` (a library layer that breaks, for no reason we can name).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..symmetry import Symmetry
from ..symmetry.actions import Action, FieldAction, RepAction, TrivialAction
from ._graph import POINTWISE_NONLINEAR
from .endtoend import EndToEnd, errors_for_action
from .layerwise import LayerTest, is_library_module, is_normalization
from .levels import Level, classify, passes
from .report import EndToEndResult, Finding, GradientResult

__all__ = [
    "Diagnosis",
    "diagnose",
    "parity_problem",
    "border_fraction",
    "output_alternatives",
]

_PARAMETRIC_TORCH = (
    torch.nn.Linear,
    torch.nn.Bilinear,
    torch.nn.Conv1d,
    torch.nn.Conv2d,
    torch.nn.Conv3d,
    torch.nn.ConvTranspose2d,
    torch.nn.Embedding,
)


@dataclass
class Diagnosis:
    findings: list[Finding] = field(default_factory=list)
    verdict: str = "PASS"
    first_failing_layer: str | None = None
    summary: str = ""


# ------------------------------------------------------------------------- static facts
def _pair(v) -> int:
    return int(v[0] if isinstance(v, (tuple, list)) else v)


def _window(module: torch.nn.Module) -> tuple[int, int, int] | None:
    """(effective kernel, stride, padding) of a strided/pooling layer, if it has one."""
    stride = getattr(module, "stride", None)
    if stride is None or _pair(stride) <= 1:
        return None
    kernel = getattr(module, "kernel_size", None)
    if kernel is None:
        filt = getattr(module, "filter", None)  # escnn antialiased pooling keeps its blur filter
        if isinstance(filt, torch.Tensor) and filt.dim() >= 2:
            kernel = filt.shape[-1]
    if kernel is None:
        return None
    dilation = _pair(getattr(module, "dilation", 1) or 1)
    k = dilation * (_pair(kernel) - 1) + 1
    padding = getattr(module, "padding", 0)
    p = _pair(padding) if isinstance(padding, (int, tuple, list)) else 0
    return k, _pair(stride), p


def parity_problem(module: torch.nn.Module, size: int) -> str | None:
    """Why a strided step breaks rotations at this input size, with a size that works.

    The sampled windows are symmetric about the image centre only when
    ``(size + 2·padding - kernel)`` is a multiple of the stride.
    """
    window = _window(module)
    if window is None:
        return None
    k, s, p = window
    if (size + 2 * p - k) % s == 0:
        return None
    good = [n for n in range(max(1, size - s), size + s + 1) if (n + 2 * p - k) % s == 0]
    best = min(good, key=lambda n: (abs(n - size), -n)) if good else None
    return (
        f"a stride-{s} step with window {k} and padding {p} on size {size}: "
        f"(size + 2·padding - window) = {size + 2 * p - k} is not a multiple of {s}, so the "
        f"sampled windows are not centred and rotations move the sampling grid"
        + (f"; size {best} works" if best else "")
    )


def border_fraction(error_map: torch.Tensor) -> tuple[float, float] | None:
    """(share of squared error in the border band, share of the area) for maps (B, C, H, W)."""
    if error_map is None or error_map.dim() != 4 or min(error_map.shape[-2:]) < 5:
        return None
    energy = (error_map.to(torch.float64) ** 2).sum(dim=(0, 1))
    total = float(energy.sum())
    if total == 0:
        return None
    H, W = energy.shape
    w = max(1, round(0.1 * min(H, W)))
    mask = torch.ones(H, W, dtype=torch.bool)
    mask[w : H - w, w : W - w] = False
    return float(energy[mask].sum()) / total, float(mask.float().mean())


# ------------------------------------------------------------------------- output types
def output_alternatives(symmetry: Symmetry, y: torch.Tensor) -> list[tuple[str, Action]]:
    """Standard output actions to try when the declared one does not fit."""
    out: list[tuple[str, Action]] = []
    declared = symmetry.out_action
    if not declared.is_trivial:
        out.append(("invariant (trivial action)", TrivialAction()))
    ina = symmetry.in_action
    if ina is not declared and isinstance(ina, (RepAction, FieldAction)):
        size = ina.size
        if (isinstance(ina, RepAction) and y.dim() == 2 and y.shape[1] == size) or (
            isinstance(ina, FieldAction) and y.shape[1:] == (size,) + tuple(y.shape[2:])
        ):
            out.append(("the input action", ina))
    G = symmetry.escnn_group
    if G is not None and G.order() > 0:
        n = G.order()
        reg = G.regular_representation
        channels = y.shape[1] if y.dim() >= 2 else 0
        if channels and channels % n == 0:
            k = channels // n
            if y.dim() == 2:
                from .._libs import escnn_group

                rep = reg if k == 1 else escnn_group().directsum([reg] * k)
                out.append((f"{k} x regular representation", RepAction(rep, name=f"{k} x regular")))
            elif y.dim() == 4 and isinstance(ina, FieldAction):
                from .._libs import escnn_nn

                ft = escnn_nn().FieldType(ina.gspace, [reg] * k)
                out.append((f"{k} x regular fields, spatially rotated", FieldAction(ft)))
        if y.dim() == 4 and isinstance(ina, FieldAction):
            from .._libs import escnn_nn

            ft = escnn_nn().FieldType(ina.gspace, [G.trivial_representation] * y.shape[1])
            out.append(("a spatially rotated map of invariant channels", FieldAction(ft)))
    return out


def _fitting_output(e2e: EndToEnd, symmetry: Symmetry) -> str | None:
    exact = [i for i, e in enumerate(e2e.elements) if e.exact]
    if not exact:
        return None
    elements = [e2e.elements[i] for i in exact]
    for name, action in output_alternatives(symmetry, e2e.y):
        try:
            _, rel = errors_for_action(e2e.y, e2e.y_moved[exact], action, elements)
        except Exception:  # an alternative that does not fit the shape
            continue
        if passes(classify(float(rel.max()))):
            return name
    return None


# ------------------------------------------------------------------------- per layer
def _pointwise(module: torch.nn.Module) -> bool:
    if isinstance(module, POINTWISE_NONLINEAR):
        return True
    enn = sys.modules.get("escnn.nn")
    return enn is not None and isinstance(module, (enn.PointwiseNonLinearity, enn.ReLU, enn.ELU))


def _improper(element) -> bool | None:
    """True for a reflection (det R < 0) of a rigid motion; None when the element has no R."""
    R = getattr(element.value, "R", None)
    if not isinstance(R, torch.Tensor) or R.shape != (3, 3):
        return None
    return bool(torch.det(R.to(torch.float64)) < 0)


def _improper_only(test: LayerTest) -> str:
    """'k reflections' when every rotation passes and only reflections fail, else ''."""
    levels = test.extra.get("levels") or []
    kinds = [(_improper(e), passes(level)) for e, level in levels]
    if not kinds or any(k is None for k, _ in kinds):
        return ""
    rotations = [ok for k, ok in kinds if not k]
    reflections = [ok for k, ok in kinds if k]
    if rotations and all(rotations) and reflections and not any(reflections):
        return f"all {len(reflections)} reflections, none of the {len(rotations)} rotations"
    return ""


def _nonlinearity_fix(action: Action) -> str:
    if getattr(action, "irreps", None) is not None:
        return (
            "apply pointwise functions only to scalars (any function on 0e, odd ones such as "
            "tanh on 0o); scale the l >= 1 irreps by invariant gates with e3nn.nn.Gate, or use "
            "e3nn.nn.NormActivation"
        )
    if isinstance(action, FieldAction):
        return (
            "apply pointwise nonlinearities only to regular/permutation fields (escnn.nn.ReLU on "
            "regular fields is exact), or use escnn.nn.NormNonLinearity / GatedNonLinearity1 on "
            "these fields, or escnn.nn.FourierPointwise for band-limited irreps"
        )
    return (
        "apply the pointwise nonlinearity on a regular (permutation) representation instead "
        "(map there with symm_learning.nn.eLinear), or use a norm/gated nonlinearity on the "
        "irreps (escnn.nn.NormNonLinearity, e3nn.nn.Gate)"
    )


def _layer_finding(test: LayerTest, severity: str, hidden: str) -> Finding:
    module, name = test.module, test.name
    cls = type(module).__name__
    rep = test.in_action.rep_names()
    err = test.result.max_rel
    evidence = f"relative error {err:.2e} at {test.result.failing_element!r}" + hidden
    in_shape = test.call.in_shapes[0] if test.call.in_shapes else ()
    if len(in_shape) == 4:
        problem = parity_problem(module, int(in_shape[-1]))
        if problem:
            return Finding(
                kind="boundary",
                title=f"{cls} at {name}: {problem}",
                location=name,
                severity=severity,
                fix="change the input size (or the padding) so that every strided step sees a "
                "size that fits its window; the designer's plan lists a size per layer",
                evidence=evidence,
            )
    if test.extra.get("permutation_error") is not None and not passes(
        classify(test.extra["permutation_error"])
    ):
        return Finding(
            kind="permutation",
            title=f"{cls} at {name} depends on the order of the nodes: it passes rigid motions "
            "but not a reordering of the atoms",
            location=name,
            severity=severity,
            fix="compute per-node values from the node's own features and its neighbours "
            "(sums, means, maxima over edges); never from node indices or positions in the "
            "batch",
            evidence=evidence,
        )
    without = test.extra.get("without_translation")
    if without is not None and passes(classify(without)):
        return Finding(
            kind="translation",
            title=f"{cls} at {name} depends on absolute positions: it passes rotations and "
            f"reflections ({without:.1e}) but not translations",
            location=name,
            severity=severity,
            fix="build features from relative positions (pos[dst] - pos[src]) and their "
            "lengths; centre the cloud (subtract its mean) before any use of absolute positions",
            evidence=evidence,
        )
    improper = _improper_only(test)
    if improper:
        return Finding(
            kind="parity",
            title=f"{cls} at {name} is equivariant under rotations but not under reflections: "
            "a feature has the wrong parity",
            location=name,
            severity=severity,
            fix="check the parity of what it computes: a cross product is a pseudovector (1e), "
            "a triple product a pseudoscalar (0o); declare those irreps (e3nn tracks parity "
            "through tensor products), or use SO3/SE3 if mirror images may differ",
            evidence=evidence + f"; fails on {improper}",
        )
    worst_exact = not test.worst_element or test.worst_element.exact
    if not worst_exact:
        return Finding(
            kind="interpolation",
            title=f"{cls} at {name} errs {err:.1e} on elements off the pixel grid, beyond the "
            "interpolation error of what flows in and out of it",
            location=name,
            severity=severity,
            fix="confirm on a group whose elements are exact on the grid (C4, D4); use smooth "
            "inputs and filters with enough angular resolution",
            evidence=evidence,
        )
    if _pointwise(module) and test.in_action.is_permutation() is not True:
        return Finding(
            kind="nonlinearity",
            title=f"pointwise {cls} on {rep}, which is not a permutation representation",
            location=name,
            severity=severity,
            fix=_nonlinearity_fix(test.in_action),
            evidence=evidence,
        )
    if is_normalization(module):
        return Finding(
            kind="normalization",
            title=f"{cls} normalises each channel on its own over {rep} fields",
            location=name,
            severity=severity,
            fix="use a normalisation that shares statistics and affine weights within each "
            "field: escnn.nn.InnerBatchNorm (regular fields), IIDBatchNorm2d / NormBatchNorm "
            "(irreps), symm_learning.nn.eBatchNorm1d on vectors",
            evidence=evidence,
        )
    share = border_fraction(test.error_map)
    if share is not None and share[0] >= 0.8 and share[0] > 2 * share[1]:
        return Finding(
            kind="boundary",
            title=f"{cls} at {name}: {share[0]:.0%} of the error sits in the border band "
            f"({share[1]:.0%} of the area)",
            location=name,
            severity=severity,
            fix="treat all sides of the image alike: symmetric padding and cropping, no "
            "one-sided pad/crop; circular or zero padding on all sides",
            evidence=evidence,
        )
    if isinstance(module, _PARAMETRIC_TORCH):
        return Finding(
            kind="unconstrained_layer",
            title=f"plain torch {cls} on {rep}: its weight is not constrained to commute with "
            "the group",
            location=name,
            severity=severity,
            fix="replace it with e3nn.o3.Linear(irreps_in, irreps_out), which mixes only "
            "copies of the same irrep"
            if getattr(test.in_action, "irreps", None) is not None
            else "replace it with symm_learning.nn.eLinear(in_rep, out_rep) (or call "
            "symm_learning.nn.impose_linear_equivariance on it), escnn.nn.Linear, or "
            "escnn.nn.R2Conv for convolutions",
            evidence=evidence,
        )
    if not is_library_module(module):
        return Finding(
            kind="custom_layer",
            title=f"custom layer {cls} breaks equivariance",
            location=name,
            severity=severity,
            fix=f"review {cls}.forward against rho_out(g)·L(h) = L(rho_in(g)·h); audit it alone "
            "with equidesign.audit(layer, Symmetry...) while you fix it",
            evidence=evidence,
        )
    return Finding(
        kind="layer",
        title=f"library layer {cls} breaks equivariance on the input it receives",
        location=name,
        severity=severity,
        fix="check the types it declares against what flows into it (in_type/out_type, "
        "in_rep/out_rep)",
        evidence=evidence,
    )


def _probe_findings(tests: Sequence[LayerTest]) -> list[Finding]:
    out = []
    for t in tests:
        r = t.result
        if r.passed and r.probe_max_rel is not None and not passes(classify(r.probe_max_rel)):
            norm = is_normalization(t.module)
            out.append(
                Finding(
                    kind="normalization" if norm else "unconstrained_layer",
                    title=f"{type(t.module).__name__} at {t.name} is equivariant only at its "
                    "current parameter values",
                    location=t.name,
                    severity="Medium",
                    fix=(
                        "use a normalisation whose statistics and affine weights are shared "
                        "within each field (escnn.nn.InnerBatchNorm, symm_learning eBatchNorm1d)"
                        if norm
                        else "constrain its weights (symm_learning.nn.eLinear, escnn.nn.Linear "
                        "or R2Conv): training will move them off the equivariant subspace"
                    ),
                    evidence=f"with perturbed parameters the relative error is "
                    f"{r.probe_max_rel:.2e}; at the current values {r.max_rel:.1e}",
                )
            )
        if r.passed and r.train_max_rel is not None and not passes(classify(r.train_max_rel)):
            out.append(
                Finding(
                    kind="normalization",
                    title=f"{type(t.module).__name__} at {t.name}: in train mode its batch "
                    "statistics depend on the batch's composition",
                    location=t.name,
                    severity="High",
                    fix="use escnn.nn.InnerBatchNorm / IIDBatchNorm2d / NormBatchNorm or "
                    "symm_learning.nn.eBatchNorm1d",
                    evidence=f"train-mode relative error {r.train_max_rel:.2e}",
                )
            )
    return out


# ------------------------------------------------------------------------- verdict
def diagnose(
    *,
    e2e: EndToEnd,
    result: EndToEndResult,
    symmetry: Symmetry,
    tests: Sequence[LayerTest],
    untested_names: Sequence[str],
    gradient: GradientResult | None,
    self_checks,
    forces=None,
    subgroup_only: bool = False,
) -> Diagnosis:
    d = Diagnosis()
    fail, attention = [], []
    if subgroup_only:
        n = len(result.per_element)
        d.findings.append(
            Finding(
                kind="untested",
                title=f"{symmetry.name} is continuous but was tested on {n} elements of a finite "
                "subgroup only (no Haar-random element, no Lie derivative)",
                location="symmetry",
                severity="Medium",
                fix="sample Haar-random elements (n_random > 0 in the Symmetry) or compute the "
                "Lie derivative (lie_derivative=True)",
                evidence=f"elements: {', '.join(p.label for p in result.per_element)}",
            )
        )
        attention.append(f"only a finite subgroup of {symmetry.name} was tested")
    precision = result.float64 is not None and result.float64.cause == "precision"
    e2e_ok = result.passed or precision
    failing = [t for t in tests if not t.result.passed]
    output_name = None if result.passed else _fitting_output(e2e, symmetry)

    if not result.passed and not precision:
        (fail if result.level == Level.BROKEN else attention).append(
            f"worst at {result.failing_element!r}"
        )
    if output_name:
        d.findings.append(
            Finding(
                kind="output_type",
                title=f"the declared output action ({symmetry.out_action.describe()}) does not "
                f"fit; the model is equivariant with {output_name}",
                location="output",
                severity="High",
                fix=f"declare the output as {output_name} (or change the model's head if the "
                "declared type is what you want)",
                evidence=f"end-to-end relative error {result.max_rel:.2e} with the declared action",
            )
        )
        fail.append("output type")
    if precision:
        rounded = [
            t.name for t in tests if t.result.float64_max_rel is not None and t.result.passed
        ]
        d.findings.append(
            Finding(
                kind="precision",
                title="float32 round-off: the float64 re-run is "
                f"{result.float64.level.value} ({result.float64.max_rel:.1e})",
                location=", ".join(rounded) or "model",
                severity="Medium",
                fix="the structure is equivariant; reduce cancellation (large offsets, long "
                "sums) or compute the sensitive part in float64",
                evidence=f"float32 relative error {result.max_rel:.2e}",
            )
        )
        attention.append("float32 round-off")

    root_token = _root_out(e2e)
    failing_names = [t.name for t in failing]
    for t in failing:
        if output_name and root_token is not None and t.call.out_token == root_token:
            continue  # it fails only against the misdeclared output action
        if any(n.startswith(t.name + ".") for n in failing_names if t.name):
            continue  # a failing layer inside it is the one to name
        hidden = ""
        if e2e_ok:
            hidden = (
                f"; end to end the error is only {result.max_rel:.1e}: a later layer discards "
                "what this layer breaks, until training opens a path from it to the output"
            )
        # High: it breaks the output; Medium: the output hides it, or it breaks only a little
        severity = "High" if not e2e_ok and t.result.level == Level.BROKEN else "Medium"
        d.findings.append(_layer_finding(t, severity, hidden))
        if e2e_ok:
            attention.append(f"layer {t.name} breaks equivariance")
    if failing:
        d.first_failing_layer = failing[0].name

    root = e2e.recorder.model if e2e.recorder is not None else None
    # a sequence whose layers were tested is no blind spot (its untested parts are listed too)
    blind = [n for n in untested_names if not any(t.name.startswith(n + ".") for t in tests)]
    if not e2e_ok and not failing and not output_name and not blind and root is not None:
        if not is_library_module(root):
            d.findings.append(
                Finding(
                    kind="custom_layer",
                    title=f"the model's own forward ({type(root).__name__}.forward, between "
                    "its layers) breaks equivariance: every layer passes alone",
                    location="",
                    severity="High",
                    fix="look at the operations the forward does itself (reshapes, slicing, "
                    "concatenations, indexing): move them into modules that declare their "
                    "representations, or fix the layout they assume",
                    evidence=f"end to end {result.max_rel:.2e}; all {len(tests)} layers pass",
                )
            )
            d.first_failing_layer = ""
    elif not e2e_ok and not failing and not output_name:
        where = ", ".join(blind) or "functional operations between layers"
        d.findings.append(
            Finding(
                kind="untested",
                title="the error arises where the layer-wise test cannot look",
                location=where,
                severity="High",
                fix="declare in_type/out_type (or in_rep/out_rep) on these modules, or wrap "
                "functional operations in modules, so that each can be tested alone",
                evidence=f"every tested layer passes; end to end {result.max_rel:.2e}",
            )
        )

    probes = _probe_findings(tests)
    d.findings.extend(probes)
    for f in probes:
        # batch statistics that depend on the batch's composition break training itself
        (fail if f.severity == "High" else attention).append(f.title)
        if f.severity == "High" and d.first_failing_layer is None:
            d.first_failing_layer = f.location

    dropout = next(
        (m for m in (gradient.modes if gradient else []) if m.mode == "dropout" and m.checked),
        None,
    )
    if dropout is not None and not dropout.passed:
        from .gradient import active_dropout

        names = active_dropout(e2e.recorder.model) if e2e.recorder is not None else []
        d.findings.append(
            Finding(
                kind="gradient",
                title="dropout masks do not move with the input: a training step is "
                "equivariant only in distribution over masks (eval is not affected)",
                location=", ".join(names) or "model",
                severity="Low",
                fix="nothing to fix for the trained model's function; for exactly equivariant "
                "training steps, use masks constant over what the group moves (one per field "
                "for vectors, escnn FieldDropout; Dropout2d on invariant channels only), or "
                "drop dropout",
                evidence=f"input gradients with shared masks err {dropout.max_rel:.2e} at "
                f"{dropout.failing_element}",
            )
        )

    if gradient is not None and not gradient.passed:
        culprit = next(
            (
                t
                for t in tests
                if t.result.gradient_max_rel is not None
                and not passes(classify(t.result.gradient_max_rel))
            ),
            None,
        )
        forward_ok = e2e_ok and not failing
        train_only = all(m.passed for m in gradient.modes if m.mode == "eval")
        explained = train_only and any(
            f.kind == "normalization" and "train mode" in f.title for f in d.findings
        )
        from .gradient import SENSITIVITY_STEP, amplified_round_off

        amplified = next(
            (m for m in gradient.modes if m.mode == "train" and amplified_round_off(m)), None
        )
        if amplified is not None and not explained and forward_ok:
            # amplified round-off, not structure: approximate at worst (NEEDS_ATTENTION)
            note = (
                f"a random relative change of {SENSITIVITY_STEP:.0e} of the input moves the "
                f"train-mode gradients by {amplified.sensitivity:.1e}: amplified round-off, not "
                "structure"
            )
            amplified.note = f"{amplified.note}; {note}" if amplified.note else note
            gradient.note = note
            if gradient.level == Level.BROKEN:
                gradient.level = Level.APPROXIMATE
            d.findings.append(
                Finding(
                    kind="precision",
                    title="train-mode input gradients amplify round-off: a "
                    f"{SENSITIVITY_STEP:.0e} relative change of the input moves them by "
                    f"{amplified.sensitivity:.1e}, the group action by {amplified.max_rel:.1e}",
                    location="model",
                    severity="Medium",
                    fix="nothing structural (every layer passes alone, eval-mode gradients "
                    "pass); where train-mode input gradients matter (forces, adversarial "
                    "training), use fewer batch-normalised layers in sequence, residual "
                    "connections, or float64",
                    evidence=f"train-mode gradient error {amplified.max_rel:.2e}; eval "
                    + ", ".join(f"{m.max_rel:.1e}" for m in gradient.modes if m.mode == "eval"),
                )
            )
        elif explained:
            for f in d.findings:
                if f.kind == "normalization" and "train mode" in f.title:
                    f.severity = "High"
                    f.evidence += (
                        f"; the model's train-mode input gradients err {gradient.max_rel:.2e}"
                    )
            if d.first_failing_layer is None:
                d.first_failing_layer = next(
                    f.location for f in d.findings if f.kind == "normalization"
                )
        elif forward_ok:
            loc = culprit.name if culprit else "model"
            d.findings.append(
                Finding(
                    kind="gradient",
                    title="the forward pass is equivariant but its gradients are not",
                    location=loc,
                    severity="High",
                    fix="a custom autograd.Function's backward does not match its forward: check "
                    "it with torch.autograd.gradcheck, or drop the custom Function",
                    evidence=f"input-gradient relative error {gradient.max_rel:.2e}"
                    + (
                        f"; the layer's own vector-Jacobian product errs by "
                        f"{culprit.result.gradient_max_rel:.2e}"
                        if culprit
                        else ""
                    ),
                )
            )
            if d.first_failing_layer is None and culprit is not None:
                d.first_failing_layer = culprit.name
        (fail if gradient.level == Level.BROKEN else attention).append("gradients")

    if forces is not None and not forces.passed:
        d.findings.append(
            Finding(
                kind="gradient",
                title="the forces -dE/dpos are not equivariant although the energy is tested",
                location="model",
                severity="High",
                fix="the energy must depend on positions only through relative vectors and "
                "rotation-invariant combinations; check custom autograd code on positions",
                evidence=f"force relative error {forces.max_rel:.2e} at {forces.failing_element!r}",
            )
        )
        (fail if forces.level == Level.BROKEN else attention).append("forces")
    # off-grid errors say something of their own only when the exact elements pass
    if result.interpolated is not None and not result.interpolated.passed and e2e_ok:
        it = result.interpolated
        d.findings.append(
            Finding(
                kind="interpolation",
                title=f"elements off the pixel grid err {it.ratio:.1f}x the interpolation error "
                "of the input itself",
                location="model",
                severity="Medium",
                fix="check the layers on the exact elements first; for rotations off the grid, "
                "use steerable filters with enough angular resolution and smooth inputs",
                evidence=f"max relative error {it.max_rel:.2e}, interpolation floor {it.floor:.2e}",
            )
        )
        # off-grid errors far beyond the interpolation floor are structural, not interpolation
        (fail if it.level == Level.BROKEN else attention).append(
            f"off-grid elements at {it.ratio:.1f}x the interpolation floor"
        )

    for check in self_checks.checks:
        if not check.passed and check.name == "batch":
            d.findings.append(
                Finding(
                    kind="batch_dependence",
                    title="the output for a sample depends on what else is in the forward pass",
                    location="model",
                    severity="Medium",
                    fix="compute what reads the whole pass per sample: distances as "
                    "(p_i - p_j).norm() rather than torch.cdist (which switches to a matrix "
                    "product beyond 25 points, giving self-distances of ~1e-3), no fixed-size "
                    "buffers or embeddings of node/sample indices, no batch statistics in eval "
                    "mode; batched inference and training see this model differently",
                    evidence=check.detail,
                )
            )
            attention.append("batch-dependent outputs")
            continue
        if not check.passed:
            batch_dependent = check.name == "identity" and "depends on the rest" in check.detail
            d.findings.append(
                Finding(
                    kind="harness",
                    title=f"self-check '{check.name}' failed: {check.detail}",
                    location="model" if batch_dependent else "symmetry",
                    severity="High",
                    fix="the same sample gives another output at another place in the batch: "
                    "remove what reads the batch as a whole (a batch-wide index, statistics "
                    "over the batch in eval mode) or any randomness in eval mode"
                    if batch_dependent
                    else "fix the symmetry description (actions, elements) or the model's "
                    "determinism before trusting this audit",
                )
            )
            attention.append(f"self-check {check.name}")

    d.verdict = "FAIL" if fail else ("NEEDS_ATTENTION" if attention else "PASS")
    d.summary = _summary(d, result, fail, attention)
    return d


def _root_out(e2e: EndToEnd) -> int | None:
    return e2e.recorder.output_token if e2e.recorder is not None else None


def _summary(d: Diagnosis, result: EndToEndResult, fail, attention) -> str:
    exact_moves = sum(p.exact for p in result.per_element) > 1  # more than the identity
    it = result.interpolated
    if it is not None and not exact_moves:
        head = (
            f"{d.verdict}: elements off the pixel grid err {it.max_rel:.1e}, {it.ratio:.1f}x the "
            f"interpolation error of the input ({it.level.value})"
        )
    else:
        head = f"{d.verdict}: end-to-end relative error {result.max_rel:.1e} ({result.level.value})"
    reasons = fail or attention
    if reasons:
        head += "; " + "; ".join(reasons[:3])
    if d.first_failing_layer:
        head += f"; first failing layer {d.first_failing_layer!r}"
    return head
