r"""End-to-end test: :math:`f(g\cdot x)` against :math:`g\cdot f(x)` for every element and input.

The original inputs and all their transformed copies go through the model in one batched forward
pass (chunked when memory runs out). The same pass records every layer's input for the
layer-wise tests, so localisation costs no extra forward of the whole model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
) -> tuple[torch.Tensor, torch.Tensor, Recorder | None]:
    """Run ``[x, g1·x, g2·x, ...]`` through the model; returns ``f(x)``, ``f(g·x)``, recorder."""
    copies = symmetry.in_action.apply(elements, x)
    batch = torch.cat([x.unsqueeze(0), copies], 0)
    G1, B = batch.shape[:2]
    flat = batch.reshape(G1 * B, *batch.shape[2:])
    fn = _model_fn(model, symmetry)
    recorder = None
    with torch.no_grad():
        out = None
        if record and (chunk is None or chunk >= G1 * B):
            try:
                recorder = Recorder(model, total=G1 * B, keep=B)
                with recorder:
                    out = fn(flat)  # one pass records every layer's input on the side
            except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
                if not is_oom(exc):
                    raise
                recorder = None
        if out is None:
            out = run_chunked(fn, flat, chunk)
        if record and recorder is None:  # too big for one pass: record on x alone
            recorder = Recorder(model, total=B, keep=B)
            with recorder:
                fn(x)
    out = out.reshape(G1, B, *out.shape[1:])
    return out[0], out[1:], recorder


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
    per = [
        ElementError(
            label=e.label,
            exact=e.exact,
            max_abs=float(abs_err[i].max()),
            max_rel=float(rel_err[i].max()),
            mean_rel=float(rel_err[i].mean()),
            level=levels[i],
            interpolation_floor=None if e.exact else float(floors[i]),
        )
        for i, e in enumerate(elements)
    ]
    ex_abs = abs_err[exact] if exact else abs_err.new_zeros(1, 1)
    ex_rel = rel_err[exact] if exact else rel_err.new_zeros(1, 1)
    exact_level = worst(levels[i] for i in exact) if exact else Level.PERFECT
    interpolated = None
    if interp:
        ratios = [float(rel_err[i].max()) / max(float(floors[i]), 1e-12) for i in interp]
        ilevel = worst(levels[i] for i in interp)
        interpolated = InterpolatedResult(
            n_elements=len(interp),
            max_rel=float(rel_err[interp].max()),
            floor=float(floors[interp].max()),
            ratio=max(ratios),
            level=ilevel,
            passed=passes(ilevel),
        )
    ident = [i for i, e in enumerate(elements) if e.identity]
    worst_exact = max(exact, key=lambda i: float(rel_err[i].max())) if exact else wi
    failing = None
    if not passes(level_all):
        failing = elements[worst_exact if not passes(exact_level) else wi].label
    return EndToEndResult(
        max_abs=float(ex_abs.max()),
        max_rel=float(ex_rel.max()),
        mean_abs=float(ex_abs.mean()),
        mean_rel=float(ex_rel.mean()),
        level=exact_level,
        passed=passes(exact_level),
        n_elements=len(elements),
        n_inputs=n_inputs,
        failing_element=failing,
        identity_error=float(rel_err[ident].max()) if ident else None,
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
) -> EndToEnd:
    y, y_moved, recorder = forward_all(model, symmetry, x, elements, record=record, chunk=chunk)
    abs_err, rel_err = errors_for_action(y, y_moved, symmetry.out_action, elements)
    floors = torch.maximum(
        interpolation_floor(symmetry.in_action, elements, x),
        interpolation_floor(symmetry.out_action, elements, y),
    )
    result = summarise(abs_err, rel_err, elements, floors, x.shape[0])
    return EndToEnd(result, x, y, y_moved, list(elements), recorder, floors)


def rerun_float64(
    model: torch.nn.Module, symmetry: Symmetry, x: torch.Tensor, elements, chunk
) -> tuple[float, Level]:
    """The exact-element error in float64 (the caller converts the model and restores it)."""
    exact = [e for e in elements if e.exact]
    hooks = _upcast_hooks(model)
    try:
        y, y_moved, _ = forward_all(
            model, symmetry, x.to(torch.float64), exact, record=False, chunk=chunk
        )
    finally:
        for h in hooks:
            h.remove()
    _, rel = errors_for_action(y, y_moved, symmetry.out_action, exact)
    value = float(rel.max())
    return value, classify(value)


def _upcast_hooks(model: torch.nn.Module) -> list[Any]:
    """Cast float32 module outputs to float64 (escnn's GroupPooling returns float32 always)."""
    from ._tensors import rewrap, unwrap

    def hook(module, args, output):
        tensor = unwrap(output)
        if tensor is not None and tensor.dtype == torch.float32:
            return rewrap(output, tensor.to(torch.float64))
        return None

    from ._state import all_modules

    return [m.register_forward_hook(hook) for _, m in all_modules(model)]
