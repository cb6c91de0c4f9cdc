r"""Gradient test: input gradients of an invariant loss must transform by the input action.

With :math:`L(y) = \tfrac12\lVert y\rVert^2`, invariant under orthogonal output actions, an
equivariant :math:`f` gives :math:`\nabla_x (L\circ f)(g\cdot x) = \rho_{in}(g)\,\nabla_x
(L\circ f)(x)` for orthogonal input actions. All copies go through one forward and one backward
pass (the loss is a sum over samples, so each copy's gradient is its own).

The test runs in eval mode and, when the model behaves differently in train mode (batch
statistics), in train mode too: there the batch is the orbit of the inputs, so batch statistics
are taken over an orbit-augmented batch. Dropout is held at eval in that mode.

Dropout gets a mode of its own: dropout on (everything else in eval), each copy ``g·x`` in a
pass of its own under the same seed, so every copy draws the same masks as ``x``. Masks that
are constant over what the group moves (a field's channels, the pixels) keep each training step
equivariant; masks that do not move with the input (per pixel, per channel of a regular field)
make a step equivariant only in distribution over masks. That mode is reported, with a Low
finding when it fails, and does not count in the verdict: the function the model computes at
eval, and the expectation over masks, are unaffected.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import torch

from ..symmetry import Symmetry
from ..symmetry.actions import TestElement
from ._state import all_modules, set_all_modes, set_mode, snapshot_tensors
from ._tensors import (
    copies_per_pass,
    is_oom,
    model_output,
    pass_groups,
    relative_errors,
    rows_are_parts,
)
from .layerwise import is_normalization
from .levels import Level, classify, passes, worst
from .report import GradientMode, GradientResult

__all__ = [
    "run_gradient",
    "behaves_differently_in_train",
    "train_mode_sensitivity",
    "amplified_round_off",
]

#: the seed every copy's dropout masks are drawn with in the dropout mode
DROPOUT_SEED = 0

#: inputs whose orbit makes the train-mode batch. The eval-mode test covers every input; what
#: train mode adds is the batch statistics, which any batch closed under the group exercises,
#: so the train-mode pass (forward and backward) need not carry all of them. Not two: batch
#: statistics of invariant features over two orbits see two distinct values, which any batch
#: normalisation maps to +-1 whatever they are (zero gradients, all round-off)
TRAIN_INPUTS = 3

#: the relative input perturbation of the train-mode sensitivity probe: round-off of the size
#: the "perfect" level allows
SENSITIVITY_STEP = 1e-6

#: a train-mode gradient error within this factor of the sensitivity is amplified round-off
SENSITIVITY_FACTOR = 10.0

_DROPOUT = (
    torch.nn.Dropout,
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.AlphaDropout,
)


def _is_dropout(module: torch.nn.Module) -> bool:
    return isinstance(module, _DROPOUT) or "dropout" in type(module).__name__.lower()


def _same_in_train(module: torch.nn.Module) -> bool:
    """Library layers whose train mode computes the same function and only skips a cache
    (escnn convolutions re-expand their filters on every training forward; eLinear its weight).
    Keeping them in eval mode gives the same gradients, faster."""
    enn = sys.modules.get("escnn.nn")
    if enn is not None and isinstance(module, (enn.R2Conv, enn.R3Conv, enn.Linear)):
        return True
    if type(module).__module__.startswith("escnn.nn.modules.basismanager"):
        return True  # the filter bases inside escnn convolutions
    sl = sys.modules.get("symm_learning.nn")
    return sl is not None and isinstance(module, (sl.eLinear, sl.eAffine))


def behaves_differently_in_train(model: torch.nn.Module) -> bool:
    return any(is_normalization(m) for _, m in all_modules(model))


def _gradients(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: Any,
    elements: Sequence[TestElement],
    original: bool = True,
    chunk: int | None = None,
) -> list | None:
    """Input gradients of ``0.5 ||f||^2`` at ``[x, g1·x, ...]`` (without ``x`` when not
    ``original``): per input leaf ``(copies, rows, ...)`` with its action; ``None`` when the
    output does not depend on the input. ``chunk``: at most this many samples per pass (whole
    copies; never in train mode, whose batch statistics need the orbit in one batch)."""
    elements = list(elements)
    copies = len(elements) + original
    per = copies_per_pass(chunk, symmetry.io.samples(x), copies)
    if per >= copies:
        return _gradients_pass(model, symmetry, x, elements, original)
    parts = [
        _gradients_pass(model, symmetry, x, group, holds_x)
        for group, holds_x in pass_groups(elements, per, original)
    ]
    if any(p is None for p in parts):
        return None
    return [(torch.cat([p[j][0] for p in parts], 0), parts[0][j][1]) for j in range(len(parts[0]))]


def _gradients_pass(model, symmetry, x, elements, original) -> list | None:
    io = symmetry.io
    stacked, leaves = io.grad_leaves(io.stack(x, elements, original=original))
    with torch.enable_grad():
        y = model_output(model(symmetry.model_input(model, stacked)))
        if not y.requires_grad or not leaves:
            return None  # the output does not depend on the input through autograd
        loss = 0.5 * (y.to(torch.float64) ** 2).sum()
        tensors = [leaf for leaf, _ in leaves]
        values = torch.autograd.grad(loss, tensors, allow_unused=True)
    copies = len(elements) + original
    return [
        (io.split(torch.zeros_like(t) if g is None else g, copies), action)
        for t, g, (_, action) in zip(tensors, values, leaves, strict=True)
    ]


def _gradient_error(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: Any,
    elements: Sequence[TestElement],
    chunk: int | None = None,
) -> tuple[float, int] | None:
    grads = _gradients(model, symmetry, x, elements, chunk=chunk)
    return None if grads is None else gradient_error(grads, elements)


@contextmanager
def _train_mode(model: torch.nn.Module):
    """Modules that differ in train mode (batch statistics) in train mode, dropout and the
    layers that only skip a cache left in eval; running buffers restored afterwards."""
    trained = [m for _, m in all_modules(model) if not (_is_dropout(m) or _same_in_train(m))]
    with snapshot_tensors(model, only=trained, buffers_only=True):
        for m in trained:
            set_mode(m, True)
        try:
            yield
        finally:
            set_all_modes(model, False)  # the audit runs in eval mode


def train_mode_sensitivity(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: Any,
    elements: Sequence[TestElement],
    seed: int = 0,
) -> float | None:
    """How far the train-mode input gradients move when the input moves by a random relative
    ``SENSITIVITY_STEP`` (relative change of the gradient at ``x``).

    A deep stack of batch-normalised layers can amplify the round-off every layer has (escnn's
    float32 filter bases are equivariant to ~1e-7) past any threshold in its train-mode
    backward; when a random perturbation of that size moves the gradients about as much as the
    group action does, the gradient error is amplified round-off, not a fault of structure.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        return None
    exact = [e for e in elements if e.exact and not e.identity]
    if not exact:
        return None
    x = _train_inputs(x)
    gen = torch.Generator().manual_seed(seed + 11)
    noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    step = (SENSITIVITY_STEP * x.detach().to(torch.float64).norm() / noise.norm()) * noise
    with _train_mode(model):
        at = _gradients(model, symmetry, x, exact)
        near = _gradients(model, symmetry, x + step.to(x), exact)
    if at is None or near is None:
        return None
    return max(
        float((b[0] - a[0]).norm() / a[0].norm().clamp_min(1e-30))
        for (a, _), (b, _) in zip(at, near, strict=True)
    )


def amplified_round_off(mode: GradientMode) -> bool:
    """The mode failed, and a round-off-sized input perturbation moves its gradients about as
    much (within ``SENSITIVITY_FACTOR``) as the group action does."""
    return (
        mode.sensitivity is not None
        and not mode.passed
        and SENSITIVITY_FACTOR * mode.sensitivity >= mode.max_rel
    )


def gradient_error(grads: list, elements: Sequence[TestElement]) -> tuple[float, int]:
    """Max relative error of the gradients at g·x (``grad[1:]``) against g·(gradient at x),
    over the input leaves (each ``(copies, rows, ...)`` with the action on it)."""
    worst, worst_i = 0.0, 0
    for grad, action in grads:
        expected = action.apply(elements, grad[0])
        _, rel = relative_errors(grad[1:], expected, typical=rows_are_parts(action))
        per = rel.max(dim=1).values
        if float(per.max()) >= worst:
            worst, worst_i = float(per.max()), int(per.argmax())
    return worst, worst_i


def run_gradient(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: torch.Tensor,
    elements: Sequence[TestElement],
    eval_grad: torch.Tensor | None = None,
    chunk: int | None = None,
) -> GradientResult | None:
    """The gradient test on the exact elements; ``None`` when no element is exact.

    ``eval_grad``: the eval-mode gradients of every copy ``[x, g·x for g in elements]``, when
    the end-to-end pass already computed them.
    """
    exact_idx = [i for i, e in enumerate(elements) if e.exact]
    exact = [elements[i] for i in exact_idx]
    if not exact or not symmetry.io.primary(x).is_floating_point():
        return None
    modes = []
    if eval_grad is not None:
        rows = [0] + [i + 1 for i in exact_idx]
        measured = gradient_error([(g[rows], action) for g, action in eval_grad], exact)
    else:
        measured = _gradient_error(model, symmetry, x, exact, chunk)
    if measured is None:
        return None
    modes.append(_mode("eval", measured, exact))
    x_train = _train_inputs(x)
    if behaves_differently_in_train(model):
        # [x, g1·x, ...] over the elements other than the identity: exactly the orbit
        orbit = [e for e in exact if not e.identity] or exact
        measured = None
        try:
            with _train_mode(model):
                measured = _gradient_error(model, symmetry, x_train, orbit) or (0.0, 0)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not is_oom(exc):
                raise
        if measured is None:  # batch statistics need the whole orbit in one batch
            modes.append(
                _not_run(
                    "train",
                    "the orbit-augmented batch does not fit in memory (batch statistics need "
                    "it whole); audit fewer inputs (n_inputs=)",
                )
            )
        else:
            note = (
                f"batch statistics over the orbit-augmented batch of "
                f"{_count(x_train)} inputs; dropout held at eval (its masks are "
                "equivariant only in distribution)"
            )
            modes.append(_mode("train", measured, orbit, note))
    overall = worst(m.level for m in modes)
    counted = max(m.max_rel for m in modes)
    if active_dropout(model):
        modes.append(_dropout_mode(model, symmetry, x_train, exact))
    return GradientResult(
        max_rel=counted,
        level=overall,
        passed=passes(overall),
        modes=modes,
    )


def active_dropout(model: torch.nn.Module) -> list[str]:
    """Names of the dropout modules that drop something in train mode (p > 0)."""
    return [
        name
        for name, m in all_modules(model)
        if _is_dropout(m) and float(getattr(m, "p", 0.0) or 0.0) > 0.0
    ]


def _not_run(mode: str, why: str) -> GradientMode:
    """A mode that could not run: reported as not checked, with why."""
    return GradientMode(
        mode=mode,
        max_rel=0.0,
        level=Level.PERFECT,
        passed=True,
        checked=False,
        note=f"not run: {why}",
    )


def _dropout_mode(model, symmetry: Symmetry, x: Any, exact: Sequence[TestElement]) -> GradientMode:
    """Input gradients with dropout on and the same masks for ``x`` and every ``g·x``."""
    moving = [e for e in exact if not e.identity]
    identity = next((e for e in exact if e.identity), None)
    if not moving or identity is None:
        return _not_run("dropout", "the exact elements tested need the identity and one other")
    device = symmetry.io.primary(x).device
    devices = [device] if device.type == "cuda" else []
    runs: list[list] = []
    try:
        for _, m in all_modules(model):
            if _is_dropout(m):
                set_mode(m, True)
        # x alone (the identity acting), then each g·x alone: one pass per copy, each under the
        # same seed, so that every copy draws the same masks
        for element in [identity, *moving]:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(DROPOUT_SEED)
                grads = _gradients(model, symmetry, x, [element], original=False)
            if grads is None:
                return _not_run("dropout", "the output does not depend on the input")
            runs.append(grads)
    finally:
        set_all_modes(model, False)
    per_leaf = [  # every leaf's copies side by side: (1 + |moving|, rows, ...)
        (torch.cat([p[i][0] for p in runs]), runs[0][i][1]) for i in range(len(runs[0]))
    ]
    measured = gradient_error(per_leaf, moving)
    if passes(classify(measured[0])):
        effect = (
            "the masks are constant over what the group moves, so each training step is equivariant"
        )
    else:
        effect = (
            "the masks do not move with the input, so a training step is equivariant only in "
            "distribution over masks; not counted in the verdict"
        )
    note = f"dropout on, the same masks at x and at each g·x (seed {DROPOUT_SEED}): {effect}"
    return _mode("dropout", measured, moving, note)


def _train_inputs(x: Any) -> Any:
    """The first ``TRAIN_INPUTS`` samples of a batch of tensors (graphs are kept whole)."""
    if isinstance(x, torch.Tensor) and x.dim() > 1 and x.shape[0] > TRAIN_INPUTS:
        return x[:TRAIN_INPUTS]
    return x


def _count(x: Any) -> int:
    if isinstance(x, torch.Tensor) and x.dim() > 1:
        return int(x.shape[0])
    return int(getattr(x, "num_graphs", 1))


def _mode(mode: str, measured: tuple[float, int], elements, note: str = "") -> GradientMode:
    value, wi = measured
    level = classify(value)
    return GradientMode(
        mode=mode,
        max_rel=value,
        level=level,
        passed=passes(level),
        failing_element=None if passes(level) else elements[wi].label,
        note=note,
    )


def _forces_pass(model, symmetry, x, elements, original):
    """``-d(sum E)/d(pos)`` of ``[x, g·x, ...]`` (without x when not ``original``) in one pass:
    ``((copies, nodes, 3), action)``, or None when the energy does not depend on ``pos``."""
    io = symmetry.io
    stacked, leaves = io.grad_leaves(io.stack(x, elements, original=original))
    pos = [(leaf, action) for leaf, action in leaves if leaf is stacked["pos"]]
    if not pos:
        return None
    with torch.enable_grad():
        energy = model_output(model(symmetry.model_input(model, stacked)))
        if not energy.requires_grad:
            return None
        (grad,) = torch.autograd.grad(energy.sum(), [pos[0][0]], allow_unused=True)
    if grad is None:
        return None
    return io.split(-grad, len(elements) + original), pos[0][1]


def run_forces(
    model,
    symmetry: Symmetry,
    x: Any,
    elements: Sequence[TestElement],
    measured=None,
    chunk: int | None = None,
):
    """Forces -d(sum E)/d(pos) of every copy, against the rotated (and permuted) forces at x.

    ``measured``: the forces of every copy ``[x, g·x for g in elements]`` with their action,
    when the end-to-end pass already computed them (its loss was the sum of the energies).
    """
    from .report import ForcesResult

    io = symmetry.io
    exact_idx = [i for i, e in enumerate(elements) if e.exact]
    exact = [elements[i] for i in exact_idx]
    if measured is not None:
        forces, action = measured
        forces = forces[[0] + [i + 1 for i in exact_idx]]
    else:
        per = copies_per_pass(chunk, io.samples(x), len(exact) + 1)
        parts, action = [], None
        for group, holds_x in pass_groups(exact, per):
            part = _forces_pass(model, symmetry, x, group, holds_x)
            if part is None:
                return None
            parts.append(part[0])
            action = part[1]
        forces = torch.cat(parts, 0)
    value, wi = gradient_error([(forces, action)], exact)
    level = classify(value)
    return ForcesResult(
        max_rel=value,
        level=level,
        passed=passes(level),
        failing_element=None if passes(level) else exact[wi].label,
    )
