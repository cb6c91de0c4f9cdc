"""Regression audits: what counts as worse, and what does not."""

from __future__ import annotations

import pytest

import equidesign as eqd
from equidesign.auditor.levels import Level
from equidesign.auditor.report import (
    ForcesResult,
    InterpolatedResult,
    LieDerivativeResult,
    LieGeneratorResult,
)
from tests.zoo import ZOO


@pytest.fixture(scope="module")
def reports():
    out = {}
    for name in ("d4_elinear_mlp", "unprojected_linear", "tiny_breakage"):
        model, sym, x = ZOO[name].build(0)
        out[name] = eqd.audit(model, sym, x)
    return out


def test_an_audit_equal_to_its_baseline_does_not_regress(reports):
    r = reports["d4_elinear_mlp"]
    comparison = eqd.compare(r, r)
    assert not comparison.regressed and comparison.changes == []
    assert "no regression" in comparison.to_text()


def test_a_worse_verdict_and_a_broken_layer_regress(reports):
    comparison = eqd.compare(reports["d4_elinear_mlp"], reports["unprojected_linear"])
    assert comparison.regressed
    whats = {c.what for c in comparison.regressions}
    assert {"verdict", "end to end", "layer 2"} <= whats


def test_improvements_do_not_regress(reports):
    comparison = eqd.compare(reports["unprojected_linear"], reports["d4_elinear_mlp"])
    assert not comparison.regressed
    assert any(c.what == "verdict" and not c.regression for c in comparison.changes)


def test_growth_below_the_tolerance_or_below_excellent_is_not_a_regression(reports):
    base = reports["d4_elinear_mlp"]
    grown = base.model_copy(deep=True)
    grown.end_to_end.max_rel = base.end_to_end.max_rel * 50  # 50x, but still far below 1e-4
    assert not eqd.compare(base, grown).regressed
    bigger = base.model_copy(deep=True)
    bigger.end_to_end.max_rel = 5e-4
    assert eqd.compare(base, bigger).regressed
    assert not eqd.compare(base, bigger, tolerance=1e6).regressed


def test_json_baselines_are_accepted(reports):
    base = reports["d4_elinear_mlp"].to_json()
    assert eqd.compare(base, reports["tiny_breakage"]).regressed


def _copy(report):
    return report.model_copy(deep=True)


def test_a_layer_going_from_perfect_to_excellent_regresses_and_is_printed(reports):
    base = reports["d4_elinear_mlp"]
    name = base.layers[0].name
    assert base.layers[0].level == Level.PERFECT
    now = _copy(base)
    now.layers[0].max_rel, now.layers[0].level = 5e-5, Level.EXCELLENT  # still passes
    comparison = eqd.compare(base, now)
    assert comparison.regressed
    (change,) = comparison.regressions
    assert change.what == f"layer {name}" and (change.before, change.after) == (
        "perfect",
        "excellent",
    )
    assert f"WORSE layer {name}" in comparison.to_text() and "perfect -> excellent" in (
        comparison.to_text()
    )
    better = eqd.compare(now, base)  # the way back is a note, not a regression
    assert not better.regressed and any(c.what == f"layer {name}" for c in better.changes)


def _with_lee(report, lee, kind="relative", padding="reflection"):
    out = _copy(report)
    out.lie_derivative = LieDerivativeResult(
        normalization="test",
        normalization_kind=kind,
        padding=padding,
        n_inputs=4,
        output_action="left as is (invariant)",
        generators={"rotate": LieGeneratorResult(generator="rotate", lee=lee, spread=0.0)},
    )
    return out


def test_lee_growth_below_the_excellent_level_is_not_a_regression(reports):
    base = reports["d4_elinear_mlp"]
    assert not eqd.compare(_with_lee(base, 1e-9), _with_lee(base, 1e-7)).regressed  # 100x
    grown = eqd.compare(_with_lee(base, 1e-4), _with_lee(base, 2e-3))
    assert grown.regressed and "LEE along rotate grew 20x" in grown.to_text()
    assert not eqd.compare(_with_lee(base, 1e-4), _with_lee(base, 5e-4)).regressed  # 5x


def test_lees_with_another_normalisation_are_not_compared(reports):
    base = reports["d4_elinear_mlp"]
    comparison = eqd.compare(_with_lee(base, 1e-4, kind=""), _with_lee(base, 1.0))
    assert not comparison.regressed
    assert "not compared: normalisation or padding changed" in comparison.to_text()
    padded = eqd.compare(_with_lee(base, 1e-4), _with_lee(base, 1.0, padding="zeros"))
    assert not padded.regressed and padded.changes


def _interpolated(max_rel, level, passed):
    return InterpolatedResult(
        n_elements=4, max_rel=max_rel, floor=1e-3, ratio=max_rel / 1e-3, level=level, passed=passed
    )


def test_off_grid_element_errors_are_compared(reports):
    base = _copy(reports["d4_elinear_mlp"])
    base.end_to_end.interpolated = _interpolated(1e-3, Level.APPROXIMATE, True)
    grown = _copy(base)
    grown.end_to_end.interpolated = _interpolated(2e-2, Level.APPROXIMATE, True)
    comparison = eqd.compare(base, grown)
    assert comparison.regressed
    assert [c.what for c in comparison.regressions] == ["off-grid elements"]
    failing = _copy(base)
    failing.end_to_end.interpolated = _interpolated(5e-3, Level.BROKEN, False)
    assert "passed, now fails" in eqd.compare(base, failing).to_text()
    assert not eqd.compare(grown, base).regressed


def _forces(max_rel, passed=True):
    return ForcesResult(max_rel=max_rel, level=Level.EXCELLENT, passed=passed)


def test_force_errors_are_compared(reports):
    base = _copy(reports["d4_elinear_mlp"])
    base.forces = _forces(2e-5)
    grown = _copy(base)
    grown.forces = _forces(5e-4)
    comparison = eqd.compare(base, grown)
    assert [c.what for c in comparison.regressions] == ["forces"]
    tiny = _copy(base)
    tiny.forces = _forces(1e-5)
    base.forces = _forces(1e-8)
    assert not eqd.compare(base, tiny).regressed  # 1000x, but below the excellent level
