"""Regression audits: what counts as worse, and what does not."""

from __future__ import annotations

import pytest

import equidesign as eqd
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
