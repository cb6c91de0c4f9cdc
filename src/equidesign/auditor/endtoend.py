r"""End-to-end test: :math:`f(g\cdot x)` against :math:`g\cdot f(x)` for every element and input.

The original inputs and all their transformed copies go through the model in one batched forward
pass (chunked when memory runs out). The same pass records every layer's input for the
layer-wise tests, so localisation costs no extra forward of the whole model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..symmetry import Symmetry
from ..symmetry.actions import Action, TestElement
from ._graph import Recorder
from ._tensors import is_oom, model_output, relative_errors, run_chunked
from .layerwise import interpolation_floor, judge
from .levels import Level, classify, passes, worst
from .report import ElementError, EndToEndResult, InterpolatedResult

__all__ = ["EndToEnd", "run_end_to_end", "errors_for_action"]


@dataclass
class EndToEnd:
    """Raw tensors of the end-to-end pass, kept for diagnosis."""

    result: EndToEndResult
    x: torch.Tensor
    y: torch.Tensor  # f(x): (B, ...)
    y_moved: torch.Tensor  # f(g·x): (G, B, ...)
    elements: list[TestElement]
    recorder: Recorder | None
    floors: torch.Tensor
    input_grad: torch.Tensor | None = None  # (G+1, B, ...) gradients of 0.5 ||f||^2


def _model_fn(model: torch.nn.Module, symmetry: Symmetry):
    def fn(batch: torch.Tensor) -> torch.Tensor:
        return model_output(model(symmetry.model_input(model, batch)))

    return fn


def forward_all(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: torch.Tensor,
    elements: Sequence[TestElement],
    *,
    record: bool,
    chunk: int | None,
    input_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, Recorder | None, torch.Tensor | None]:
    """Run ``[x, g1·x, g2·x, ...]`` through the model.

    Returns ``f(x)``, ``f(g·x)``, the recorder, and -- with ``input_grad`` -- the input
    gradients of the gradient test's loss ``0.5 ||f||^2`` for every copy, from the same pass
    (the eval-mode gradient test then costs one backward pass, not another forward).
    """
    copies = symmetry.in_action.apply(elements, x)
    batch = torch.cat([x.unsqueeze(0), copies], 0)
    G1, B = batch.shape[:2]
    flat = batch.reshape(G1 * B, *batch.shape[2:])
    fn = _model_fn(model, symmetry)
    recorder, grad, out = None, None, None
    single = chunk is None or chunk >= G1 * B
    if single and (record or input_grad):
        try:
            out, grad, recorder = _single_pass(model, fn, flat, G1 * B, B, record, input_grad)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not is_oom(exc):
                raise
            out = grad = recorder = None
    with torch.no_grad():
        if out is None:
            out = run_chunked(fn, flat, chunk)
        if record and recorder is None:  # too big for one pass: record on x alone
            recorder = Recorder(model, total=B, keep=B)
            with recorder:
                fn(x)
    out = out.reshape(G1, B, *out.shape[1:])
    if grad is not None:
        grad = grad.reshape(G1, B, *grad.shape[1:])
    return out[0], out[1:], recorder, grad


def _single_pass(model, fn, flat, total, keep, record, input_grad):
    recorder = Recorder(model, total=total, keep=keep) if record else None
    flat = flat.detach().requires_grad_(input_grad and flat.is_floating_point())
    with torch.set_grad_enabled(flat.requires_grad):
        if recorder is not None:
            with recorder:
                out = fn(flat)  # one pass records every layer's input on the side
        else:
            out = fn(flat)
        grad = None
        if flat.requires_grad and out.requires_grad:
            loss = 0.5 * (out.to(torch.float64) ** 2).sum()
            (grad,) = torch.autograd.grad(loss, flat, allow_unused=True)
    return out.detach(), grad, recorder


def errors_for_action(
    y: torch.Tensor, y_moved: torch.Tensor, action: Action, elements: Sequence[TestElement]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute and relative errors of f(g·x) against action(g)·f(x): ``(G, B)`` each."""
    expected = action.apply(elements, y)
    return relative_errors(y_moved, expected)


def summarise(
    abs_err: torch.Tensor,
    rel_err: torch.Tensor,
    elements: Sequence[TestElement],
    floors: torch.Tensor,
    n_inputs: int,
) -> EndToEndResult:
    level_all, wi, levels = judge(rel_err, elements, floors)
    exact = [i for i, e in enumerate(elements) if e.exact]
    interp = [i for i, e in enumerate(elements) if not e.exact]
    # one pass over the tensors, then plain Python
    rel_max = rel_err.max(dim=1).values.tolist()
    rel_mean = rel_err.mean(dim=1).tolist()
    abs_max = abs_err.max(dim=1).values.tolist()
    abs_mean = abs_err.mean(dim=1).tolist()
    fl = floors.tolist()
    per = [
        ElementError(
            label=e.label,
            exact=e.exact,
            max_abs=abs_max[i],
            max_rel=rel_max[i],
            mean_rel=rel_mean[i],
            level=levels[i],
            interpolation_floor=None if e.exact else fl[i],
        )
        for i, e in enumerate(elements)
    ]
    exact_level = worst(levels[i] for i in exact) if exact else Level.PERFECT
    interpolated = None
    if interp:
        ratios = [rel_max[i] / max(fl[i], 1e-12) for i in interp]
        ilevel = worst(levels[i] for i in interp)
        interpolated = InterpolatedResult(
            n_elements=len(interp),
            max_rel=max(rel_max[i] for i in interp),
            floor=max(fl[i] for i in interp),
            ratio=max(ratios),
            level=ilevel,
            passed=passes(ilevel),
        )
    ident = [i for i, e in enumerate(elements) if e.identity]
    worst_exact = max(exact, key=lambda i: rel_max[i]) if exact else wi
    failing = None
    if not passes(level_all):
        failing = elements[worst_exact if not passes(exact_level) else wi].label
    n = len(exact) or 1
    return EndToEndResult(
        max_abs=max((abs_max[i] for i in exact), default=0.0),
        max_rel=max((rel_max[i] for i in exact), default=0.0),
        mean_abs=sum(abs_mean[i] for i in exact) / n,
        mean_rel=sum(rel_mean[i] for i in exact) / n,
        level=exact_level,
        passed=passes(exact_level),
        n_elements=len(elements),
        n_inputs=n_inputs,
        failing_element=failing,
        identity_error=rel_max[ident[0]] if ident else None,
        per_element=per,
        interpolated=interpolated,
    )


def run_end_to_end(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: torch.Tensor,
    elements: Sequence[TestElement],
    *,
    record: bool = True,
    chunk: int | None = None,
    input_grad: bool = False,
) -> EndToEnd:
    y, y_moved, recorder, grad = forward_all(
        model, symmetry, x, elements, record=record, chunk=chunk, input_grad=input_grad
    )
    abs_err, rel_err = errors_for_action(y, y_moved, symmetry.out_action, elements)
    floors = torch.maximum(
        interpolation_floor(symmetry.in_action, elements, x),
        interpolation_floor(symmetry.out_action, elements, y),
    )
    result = summarise(abs_err, rel_err, elements, floors, x.shape[0])
    return EndToEnd(result, x, y, y_moved, list(elements), recorder, floors, grad)


def rerun_float64(
    model: torch.nn.Module, symmetry: Symmetry, x: torch.Tensor, elements, chunk
) -> tuple[float, Level]:
    """The exact-element error in float64 (the caller converts the model and restores it)."""
    exact = [e for e in elements if e.exact]
    y, y_moved, _, _ = forward_all(
        model, symmetry, x.to(torch.float64), exact, record=False, chunk=chunk
    )
    _, rel = errors_for_action(y, y_moved, symmetry.out_action, exact)
    value = float(rel.max())
    return value, classify(value)
