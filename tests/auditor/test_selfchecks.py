"""The test checks itself: a test that cannot fail, or a wrong action, is never a PASS."""

from __future__ import annotations

import torch

import equidesign as eqd
from equidesign.symmetry import Symmetry

from .models import DeepSets, d4_mlp, set_symmetry


def test_a_symmetry_that_moves_nothing_is_reported_as_unable_to_fail():
    sym = Symmetry.vectors("D4", "16 x trivial", "invariant")
    model = torch.nn.Linear(16, 3)  # any model passes a test where nothing moves
    report = eqd.audit(model, sym)
    assert report.verdict == "NEEDS_ATTENTION"
    check = next(c for c in report.self_checks if c.name == "can fail")
    assert not check.passed and "cannot fail" in check.detail
    assert report.findings_of("harness")


def test_a_constant_model_is_reported_as_unable_to_fail():
    class Zero(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 3)

    report = eqd.audit(Zero(), Symmetry.vectors("D4", "regular", "invariant"))
    assert report.verdict == "NEEDS_ATTENTION"
    assert any("does not depend on its input" in c.detail for c in report.self_checks)


def test_a_constant_model_has_no_gradient_test():
    """The gradients of a function that does not vary are round-off: judging them would FAIL
    a model (a network whose signal died out) on noise; the can-fail check says why."""

    class AlmostConstant(torch.nn.Module):
        def forward(self, x):
            return 1.0 + 1e-14 * x.to(torch.float64)[:, :3]  # not invariant, but invisibly

    sym = Symmetry.vectors("D4", "regular", "invariant")
    report = eqd.audit(AlmostConstant(), sym, dtype=torch.float64)
    assert report.verdict == "NEEDS_ATTENTION" and report.gradient is None
    check = next(c for c in report.self_checks if c.name == "can fail")
    assert "gradient test is skipped" in check.detail


def test_an_action_that_is_not_a_homomorphism_is_flagged():
    # "act" by g as a cyclic shift by g^2 positions composed wrongly: act(g·h) != act(g)∘act(h)
    def act(g, x):
        return torch.roll(x, shifts=int(g) ** 2, dims=1)

    sym = Symmetry.custom(
        "Z5",
        lambda n, gen: [int(v) for v in torch.randint(1, 5, (n,), generator=gen)],
        act,
        act,
        compose=lambda g, h: (g + h) % 5,
        identity=0,
        example=lambda b, gen: torch.randn(b, 5, generator=gen),
    )
    report = eqd.audit(torch.nn.Identity(), sym)
    check = next(c for c in report.self_checks if c.name == "homomorphism")
    assert not check.passed
    assert report.verdict != "PASS"


def test_an_identity_that_moves_the_output_is_flagged():
    sym = Symmetry.custom(
        "S5",
        lambda n, gen: [torch.randperm(5, generator=gen) for _ in range(n)],
        lambda p, x: x[:, p],
        lambda p, y: -y,  # wrong output action: even the identity flips the sign
        identity=torch.arange(5),
        example=lambda b, gen: torch.randn(b, 5, 3, generator=gen),
    )
    report = eqd.audit(DeepSets(), sym)
    assert not next(c for c in report.self_checks if c.name == "identity").passed
    assert report.verdict == "FAIL"


def test_correct_models_pass_every_self_check():
    report = eqd.audit(d4_mlp(), Symmetry.vectors("D4", "2 x regular"))
    assert all(c.passed for c in report.self_checks)
    report = eqd.audit(DeepSets(), set_symmetry())
    assert report.verdict == "PASS", report.to_text()


def test_checks_that_could_not_run_say_so_instead_of_ok():
    # a custom symmetry without identity= or compose=: those two checks cannot run
    sym = Symmetry.custom(
        "Z4",
        lambda n, gen: [int(v) for v in torch.randint(1, 4, (n,), generator=gen)],
        lambda g, x: torch.roll(x, shifts=g, dims=1),
        None,
        example=lambda batch, gen: torch.randn(batch, 4, generator=gen),
    )

    class Total(torch.nn.Module):
        def forward(self, x):
            return x.sum(dim=1, keepdim=True)

    report = eqd.audit(Total(), sym)
    status = {c.name: c.status for c in report.self_checks}
    assert status["identity"] == "not checked" and status["homomorphism"] == "not checked"
    assert status["can fail"] == "ok"
    assert "- identity: not checked --" in report.to_text()
