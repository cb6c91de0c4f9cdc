r"""End-to-end test: :math:`f(g\cdot x)` against :math:`g\cdot f(x)` for every element and input.

The original inputs and all their transformed copies go through the model in one batched forward
pass (chunked when memory runs out). The same pass records every layer's input for the
layer-wise tests, so localisation costs no extra forward of the whole model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..symmetry import Symmetry
from ..symmetry.actions import Action, TestElement
from ._autograd import plain_model_grads, with_model_grads
from ._graph import Recorder
from ._tensors import (
    copies_per_pass,
    is_oom,
    model_output,
    pass_groups,
    relative_errors,
    rows_are_parts,
)
from .layerwise import interpolation_floor, judge
from .levels import Level, classify, passes, worst
from .report import ElementError, EndToEndResult, InterpolatedResult

__all__ = ["EndToEnd", "run_end_to_end", "errors_for_action"]


@dataclass
class EndToEnd:
    """Raw tensors of the end-to-end pass, kept for diagnosis."""

    result: EndToEndResult
    x: Any
    y: torch.Tensor  # f(x): (B, ...)
    y_moved: torch.Tensor  # f(g·x): (G, B, ...)
    elements: list[TestElement]
    recorder: Recorder | None
    floors: torch.Tensor
    #: gradients of the test loss per input leaf, each ``((G+1), rows, ...)`` with its action
    input_grad: list | None = None
    #: ``-d(sum f)/d(pos)`` of every copy ``((G+1), nodes, 3)`` with the action on it, when the
    #: loss was the energy
    forces: tuple | None = None


def _model_fn(model: torch.nn.Module, symmetry: Symmetry):
    def forward(batch):
        return model_output(model(symmetry.model_input(model, batch)))

    def fn(batch: torch.Tensor) -> torch.Tensor:
        return with_model_grads(model, forward, batch)

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
    energy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, Recorder | None, list | None, torch.Tensor | None]:
    """Run ``[x, g1·x, g2·x, ...]`` through the model.

    Returns ``f(x)``, ``f(g·x)``, the recorder, and -- with ``input_grad`` -- the input
    gradients of the gradient test's loss for every copy, from the same pass (the eval-mode
    gradient test then costs one backward pass, not another forward). The loss is
    ``0.5 ||f||^2``, or with ``energy`` (an invariant energy of point clouds) the sum of the
    energies, whose gradient with respect to the positions is minus the forces (returned last).
    """
    io = symmetry.io
    G1 = len(elements) + 1
    samples = max(io.samples(x), 1)
    per = copies_per_pass(chunk, samples, G1)
    fn = _model_fn(model, symmetry)
    while True:
        try:
            return _passes(model, fn, io, x, list(elements), per, record, input_grad, energy)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not is_oom(exc) or per == 1:
                raise
            per = max(1, per // 2)  # out of memory: fewer copies per pass
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _passes(model, fn, io, x, elements, per: int, record, input_grad, energy):
    """``[x, g1·x, ...]`` through the model ``per`` copies at a time (whole copies, so graphs and
    samples stay together). The first pass holds ``x`` and records every layer's input; each
    pass gives its own input gradients (the loss is a sum over samples)."""
    outs, grads, forces, recorder = [], [], [], None
    for k, (group, holds_x) in enumerate(pass_groups(elements, per)):
        stacked = io.stack(x, group, original=holds_x)
        copies = len(group) + holds_x
        out, grad, rec, force = _single_pass(
            model, fn, stacked, copies, io, record and k == 0, input_grad, energy
        )
        recorder = rec if k == 0 else recorder
        outs.append(io.split(out, copies))
        if grad is not None:
            grads.append([(io.split(g, copies), action) for g, action in grad])
        if force is not None:
            forces.append((io.split(force[0], copies), force[1]))
    out = torch.cat(outs, 0)
    grad = None
    if grads and len(grads) == len(outs):
        grad = [
            (torch.cat([g[i][0] for g in grads], 0), grads[0][i][1]) for i in range(len(grads[0]))
        ]
    force = None
    if forces and len(forces) == len(outs):
        force = (torch.cat([f[0] for f in forces], 0), forces[0][1])
    return out[0], out[1:], recorder, grad, force


def _single_pass(model, fn, stacked, copies, io, record, input_grad, energy=False):
    recorder = Recorder(model, copies=copies) if record else None
    leaves = []
    if input_grad:
        stacked, leaves = io.grad_leaves(stacked)
    pos = stacked["pos"] if energy and leaves else None
    if recorder is not None:
        for tensor, action in io.seeds(stacked):
            recorder.seed(tensor, action)
    # without input gradients the outputs are not differentiated: a force field's own
    # autograd.grad may free its graph as it asks
    plain = plain_model_grads() if not leaves else contextlib.nullcontext()
    with torch.set_grad_enabled(bool(leaves)), plain:
        if recorder is not None:
            with recorder:
                out = fn(stacked)  # one pass records every layer's input on the side
        else:
            out = fn(stacked)
        grads, forces = None, None
        if leaves and out.requires_grad:
            wide = out.to(torch.float64)
            loss = wide.sum() if energy else 0.5 * (wide**2).sum()
            tensors = [leaf for leaf, _ in leaves]
            values = torch.autograd.grad(loss, tensors, allow_unused=True)
            grads = [
                (torch.zeros_like(t) if g is None else g, action)
                for t, g, (_, action) in zip(tensors, values, leaves, strict=True)
            ]
            forces = next(
                ((-g, a) for t, (g, a) in zip(tensors, grads, strict=True) if t is pos), None
            )
    return out.detach(), grads, recorder, forces


def errors_for_action(
    y: torch.Tensor, y_moved: torch.Tensor, action: Action, elements: Sequence[TestElement]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute and relative errors of f(g·x) against action(g)·f(x): ``(G, B)`` each."""
    expected = action.apply(elements, y)
    return relative_errors(y_moved, expected, typical=rows_are_parts(action))


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
    energy: bool = False,
) -> EndToEnd:
    y, y_moved, recorder, grad, forces = forward_all(
        model,
        symmetry,
        x,
        elements,
        record=record,
        chunk=chunk,
        input_grad=input_grad,
        energy=energy,
    )
    abs_err, rel_err = errors_for_action(y, y_moved, symmetry.out_action, elements)
    floors = torch.maximum(
        interpolation_floor(symmetry.in_action, elements, symmetry.io.primary(x)),
        interpolation_floor(symmetry.out_action, elements, y),
    )
    result = summarise(abs_err, rel_err, elements, floors, symmetry.io.samples(x))
    return EndToEnd(result, x, y, y_moved, list(elements), recorder, floors, grad, forces)


def rerun_float64(
    model: torch.nn.Module, symmetry: Symmetry, x: torch.Tensor, elements, chunk
) -> tuple[float, Level]:
    """The exact-element error in float64 (the caller converts the model and restores it)."""
    exact = [e for e in elements if e.exact]
    y, y_moved, _, _, _ = forward_all(
        model, symmetry, symmetry.io.to(x, None, torch.float64), exact, record=False, chunk=chunk
    )
    _, rel = errors_for_action(y, y_moved, symmetry.out_action, exact)
    value = float(rel.max())
    return value, classify(value)
