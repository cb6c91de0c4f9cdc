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


@dataclass
class SelfChecks:
    checks: list[SelfCheck] = field(default_factory=list)
    vacuous: bool = False
    orthogonal: bool = True
    broken_action: bool = False

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(SelfCheck(name=name, passed=passed, detail=detail))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    _, rel = relative_errors(a.unsqueeze(0), b.unsqueeze(0))
    return float(rel.max())


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
    exact = [e for e in elements if e.exact]
    _identity(out, symmetry, x, y_probe, elements, identity_error)
    _homomorphism(out, symmetry, x, y_probe, exact, gen)
    _can_fail(out, symmetry, x, y, y_probe, [e for e in elements if not e.identity])
    _orthogonal(out, symmetry, x, y_probe, exact)
    return out


def _identity(out, symmetry, x, y_probe, elements, identity_error) -> None:
    ident = [e for e in elements if e.identity]
    if not ident:
        out.add(
            "identity",
            True,
            "no identity element among the tested elements (Symmetry.custom: pass identity=)",
        )
        return
    e = ident[0]
    err_in = _rel(symmetry.in_action.apply([e], x)[0], x)
    err_out = _rel(symmetry.out_action.apply([e], y_probe)[0], y_probe)
    ok = err_in < _TOL and err_out < _TOL
    detail = f"identity acts as identity on inputs ({err_in:.1e}) and outputs ({err_out:.1e})"
    if identity_error is not None:
        ok_model = identity_error < 1e-4
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


def _homomorphism(out, symmetry, x, y_probe, exact, gen) -> None:
    if not symmetry.can_compose:
        out.add("homomorphism", True, "not checked: the symmetry has no composition (compose=)")
        return
    pairs = list(itertools.product(exact, exact))
    if len(pairs) > 6:
        picks = torch.randperm(len(pairs), generator=gen)[:6].tolist()
        pairs = [pairs[i] for i in picks]
    worst_in = worst_out = 0.0
    for g, h in pairs:
        gh = symmetry.compose(g, h)
        for action, t, slot in (
            (symmetry.in_action, x, "in"),
            (symmetry.out_action, y_probe, "out"),
        ):
            lhs = action.apply([gh], t)[0]
            rhs = action.apply([g], action.apply([h], t)[0])[0]
            err = _rel(lhs, rhs)
            if slot == "in":
                worst_in = max(worst_in, err)
            else:
                worst_out = max(worst_out, err)
    ok = worst_in < _TOL and worst_out < _TOL
    if not ok:
        out.broken_action = True
    out.add(
        "homomorphism",
        ok,
        f"act(g·h) = act(g)∘act(h) on {len(pairs)} pairs: input {worst_in:.1e}, output "
        f"{worst_out:.1e}"
        + ("" if ok else " -- an action is not a group action (check its convention)"),
    )


def _can_fail(out, symmetry, x, y, y_probe, exact) -> None:
    moved_in = max((_rel(symmetry.in_action.apply([e], x)[0], x) for e in exact), default=0.0)
    moved_out = max(
        (_rel(symmetry.out_action.apply([e], y_probe)[0], y_probe) for e in exact), default=0.0
    )
    if moved_in < _TOL and moved_out < _TOL:
        out.vacuous = True
        out.add(
            "can fail",
            False,
            "no tested element moves the inputs or the outputs: the test cannot fail",
        )
        return
    flat = y.reshape(y.shape[0], -1).to(torch.float64)
    if float(flat.norm()) == 0.0 or (
        y.shape[0] > 1 and float((flat - flat[:1]).norm()) <= 1e-12 * float(flat.norm())
    ):
        out.vacuous = True
        out.add(
            "can fail",
            False,
            "the model's output does not depend on its input (zero or constant): the test "
            "cannot fail",
        )
        return
    out.add(
        "can fail",
        True,
        f"elements move inputs (up to {moved_in:.2g}) and outputs (up to {moved_out:.2g}); "
        "outputs vary with the input",
    )


def _orthogonal(out, symmetry, x, y_probe, exact) -> None:
    def ratio(action, t):
        moved = action.apply(exact, t)
        n0 = float(t.to(torch.float64).norm())
        return max(abs(float(m.to(torch.float64).norm()) / max(n0, 1e-30) - 1) for m in moved)

    r_in, r_out = ratio(symmetry.in_action, x), ratio(symmetry.out_action, y_probe)
    out.orthogonal = r_in < 1e-5 and r_out < 1e-5
    out.add(
        "orthogonal actions",
        True,
        f"norm change under the actions: input {r_in:.1e}, output {r_out:.1e}"
        + ("" if out.orthogonal else " -- not orthogonal: the gradient test is skipped"),
    )
