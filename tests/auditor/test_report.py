"""Reports: the audit guide's text template, markdown, and JSON that round-trips."""

from __future__ import annotations

import pytest

import equidesign as eqd
from equidesign.auditor.report import AuditReport
from tests.zoo import ZOO


@pytest.fixture(scope="module")
def failing():
    model, sym, x = ZOO["relu_on_irreps"].build(0)
    return eqd.audit(model, sym, x)


@pytest.fixture(scope="module")
def passing():
    model, sym, x = ZOO["c8_cnn_escnn"].build(0)
    return eqd.audit(model, sym, x)


def test_json_round_trips(failing, passing):
    for report in (failing, passing):
        again = AuditReport.model_validate_json(report.to_json())
        assert again == report
        assert again.to_text() == report.to_text()


def test_text_follows_the_audit_guide_template(failing):
    text = failing.to_text()
    sections = [
        "MODEL EQUIVARIANCE AUDIT REPORT",
        "Model: Sequential",
        "Intended Symmetry: C8",
        "Symmetry Type: Equivariant",
        "END-TO-END TESTS:",
        "Test samples: 4",
        "Transformations tested: 8",
        "- Max relative:",
        "- RESULT: FAIL",
        "LAYER-WISE ANALYSIS:",
        "- Layer: 1 (ReLU)",
        "First failing layer: 1",
        "GRADIENT TEST:",
        "IDENTIFIED ISSUES:",
        "1. [nonlinearity]",
        "   - Location: 1",
        "   - Severity: High",
        "   - Recommended fix:",
        "OVERALL VERDICT: FAIL",
        "Recommendations:",
    ]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)


def test_reports_record_what_reproduces_the_run(failing):
    s = failing.settings
    assert (s.seed, s.dtype, s.device, s.n_inputs) == (0, "float32", "cpu", 4)
    assert len(s.elements) == 8 and s.exhaustive
    assert failing.end_to_end.failing_element in s.elements


def test_markdown_has_tables_and_findings(failing, passing):
    md = failing.to_markdown()
    assert md.startswith("# Equivariance audit: Sequential")
    assert "| element | exact | max abs | max rel | level |" in md
    assert "**[nonlinearity]" in md
    assert "interpolated" in passing.to_markdown()
    assert "Interpolated elements" in passing.to_text()


def test_passing_report_says_none_found(passing):
    text = passing.to_text()
    assert "IDENTIFIED ISSUES:\n------------------\nNone." in text
    assert "OVERALL VERDICT: PASS" in text
