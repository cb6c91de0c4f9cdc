"""Self-checks of the test itself: could it fail, and are the actions what they claim to be?

* the identity element acts as the identity, and gives zero error through the model;
* the actions are homomorphisms on the sampled elements: ``act(g·h) = act(g) ∘ act(h)``;
* the test can fail: some element moves the inputs or the outputs, and the model's output
  depends on its input;
* the actions preserve norms (the gradient test relies on orthogonal actions).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..symmetry import Symmetry
from ..symmetry.actions import TestElement
from ._tensors import relative_errors
from .report import SelfCheck

__all__ = ["SelfChecks", "run_self_checks"]

_TOL = 1e-5
#: f(identity · x) against f(x) within one batched pass: the same computation but for the
#: position in the batch (round-off of batched kernels only)
_IDENTITY_TOL = 1e-6
_PAIRS = 4  # composition pairs checked


@dataclass
class SelfChecks:
    checks: list[SelfCheck] = field(default_factory=list)
    vacuous: bool = False
    orthogonal: bool = True
    broken_action: bool = False
    constant_output: bool = False  # then the gradients are round-off: no gradient test

    def add(self, name: str, passed: bool, detail: str, checked: bool = True) -> None:
        self.checks.append(SelfCheck(name=name, passed=passed, detail=detail, checked=checked))


def run_self_checks(
    symmetry: Symmetry,
    x: torch.Tensor,
    y: torch.Tensor,
    elements: Sequence[TestElement],
    identity_error: float | None,
    seed: int = 0,
) -> SelfChecks:
    out = SelfChecks()
    gen = torch.Generator().manual_seed(seed)
    y_probe = torch.randn(y.shape, generator=gen).to(y)  # tests the output action itself
    # every element applied once to each input (features, positions) and to a probe output;
    # the checks below share these
    inputs = [
        (action, t, action.apply(elements, t))
        for _, t, action in symmetry.io.inputs(x)
        if t.is_floating_point()
    ]
    moved_out = symmetry.out_action.apply(elements, y_probe)
    shift_in = torch.zeros(len(elements), dtype=torch.float64)
    for _, t, moved in inputs:
        _, rel = relative_errors(moved, t.unsqueeze(0).expand_as(moved))
        shift_in = torch.maximum(shift_in, rel.max(dim=1).values.cpu().to(torch.float64))
    _, rel_out = relative_errors(moved_out, y_probe.unsqueeze(0).expand_as(moved_out))
    shift_out = rel_out.max(dim=1).values.cpu().to(torch.float64)
    _identity(out, elements, shift_in, shift_out, identity_error)
    _homomorphism(out, symmetry, elements, inputs, (symmetry.out_action, y_probe, moved_out), gen)
    _can_fail(out, elements, shift_in, shift_out, y)
    x = symmetry.io.primary(x)
    moved_in = next((m for a, t, m in inputs if t is x), None)
    linear = getattr(symmetry.in_action, "gradient_action", None)
    if linear is not None:  # gradients move by the linear part (positions: R, not R p + t)
        moved_in = linear().apply(elements, x)
    elif moved_in is None:
        moved_in = symmetry.in_action.apply(elements, x)
    _orthogonal(out, elements, x, y_probe, moved_in, moved_out)
    return out


def _identity(out, elements, shift_in, shift_out, identity_error) -> None:
    ident = [i for i, e in enumerate(elements) if e.identity]
    if not ident:
        out.add(
            "identity",
            True,
            "no identity element among the tested elements (Symmetry.custom: pass identity=)",
            checked=False,
        )
        return
    err_in, err_out = float(shift_in[ident[0]]), float(shift_out[ident[0]])
    ok = err_in < _TOL and err_out < _TOL
    detail = f"identity acts as identity on inputs ({err_in:.1e}) and outputs ({err_out:.1e})"
    if identity_error is not None:
        ok_model = identity_error < _IDENTITY_TOL
        detail += f"; model error at the identity {identity_error:.1e}"
        if not ok_model:
            detail += (
                " -- the model is not deterministic, or its output for a sample depends on "
                "the rest of the batch"
            )
        ok = ok and ok_model
    if not ok:
        out.broken_action = True
    out.add("identity", ok, detail)


def _homomorphism(out, symmetry, elements, inputs, output, gen) -> None:
    if not symmetry.can_compose:
        out.add("homomorphism", True, "the symmetry has no composition (compose=)", checked=False)
        return
    exact = [i for i, e in enumerate(elements) if e.exact]
    pairs = list(itertools.product(exact, exact))
    if len(pairs) > _PAIRS:
        picks = torch.randperm(len(pairs), generator=gen)[:_PAIRS].tolist()
        pairs = [pairs[i] for i in picks]
    products = [symmetry.compose(elements[g], elements[h]) for g, h in pairs]
    worst = []
    for action, t, moved in (*inputs, output):
        lhs = action.apply(products, t)
        rhs = torch.stack([action.apply([elements[g]], moved[h])[0] for g, h in pairs])
        _, rel = relative_errors(lhs, rhs)
        worst.append(float(rel.max()))
    # inputs: the worst over every input tensor; output last
    worst = [max(worst[:-1], default=0.0), worst[-1]]
    ok = worst[0] < _TOL and worst[1] < _TOL
    if not ok:
        out.broken_action = True
    out.add(
        "homomorphism",
        ok,
        f"act(g·h) = act(g)∘act(h) on {len(pairs)} pairs: input {worst[0]:.1e}, output "
        f"{worst[1]:.1e}"
        + ("" if ok else " -- an action is not a group action (check its convention)"),
    )


def _can_fail(out, elements, shift_in, shift_out, y) -> None:
    moving = [i for i, e in enumerate(elements) if not e.identity]
    moved_in = float(shift_in[moving].max()) if moving else 0.0
    moved_out = float(shift_out[moving].max()) if moving else 0.0
    if moved_in < _TOL and moved_out < _TOL:
        out.vacuous = True
        out.add(
            "can fail",
            False,
            "no tested element moves the inputs or the outputs: the test cannot fail",
        )
        return
    flat = y.reshape(y.shape[0], -1).to(torch.float64)
    norm = float(flat.norm())
    if norm == 0.0 or (y.shape[0] > 1 and float((flat - flat[:1]).norm()) <= 1e-12 * norm):
        out.vacuous = out.constant_output = True
        out.add(
            "can fail",
            False,
            "the model's output does not depend on its input (zero or constant): the test "
            "cannot fail; the gradient test is skipped (a constant's gradients are round-off)",
        )
        return
    out.add(
        "can fail",
        True,
        f"elements move inputs (up to {moved_in:.2g}) and outputs (up to {moved_out:.2g}); "
        "outputs vary with the input",
    )


def _orthogonal(out, elements, x, y_probe, moved_in, moved_out) -> None:
    exact = [i for i, e in enumerate(elements) if e.exact]

    def ratio(t, moved):
        n0 = float(t.to(torch.float64).norm()) or 1e-30
        norms = moved[exact].reshape(len(exact), -1).to(torch.float64).norm(dim=1)
        return float((norms / n0 - 1).abs().max()) if exact else 0.0

    r_in, r_out = ratio(x, moved_in), ratio(y_probe, moved_out)
    out.orthogonal = r_in < 1e-5 and r_out < 1e-5
    out.add(
        "orthogonal actions",
        True,
        f"norm change under the actions: input {r_in:.1e}, output {r_out:.1e}"
        + ("" if out.orthogonal else " -- not orthogonal: the gradient test is skipped"),
    )
