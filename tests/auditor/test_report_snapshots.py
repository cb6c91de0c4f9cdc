"""Snapshots of the rendered reports: stored audit JSON (real audits of zoo models) rendered as
text and markdown must match the stored files byte for byte, and the JSON must read back and
write out unchanged. ``UPDATE_SNAPSHOTS=1`` re-runs the audits and rewrites the files."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
import torch

import equidesign as eqd
from equidesign.auditor.report import AuditReport
from tests.zoo import ZOO

HERE = Path(__file__).parent / "report_snapshots"
ENTRIES = ("relu_on_irreps", "gradient_only", "c8_cnn_escnn")
UPDATE = "UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/auditor/test_report_snapshots.py"


def _check(path: Path, text: str) -> None:
    expected = path.read_text()
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), str(path), "rendered"
            )
        )
        pytest.fail(f"{path.name} changed:\n{diff}\nif intended, update with: {UPDATE}")


@pytest.mark.parametrize("name", ENTRIES)
def test_rendered_reports_match_their_snapshots(name):
    stored = HERE / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        model, sym, x = ZOO[name].build(0)
        report = eqd.audit(model, sym, x)
        report.timings = {}  # wall times differ on every run
        stored.write_text(report.to_json())
        (HERE / f"{name}.txt").write_text(report.to_text())
        (HERE / f"{name}.md").write_text(report.to_markdown())
    report = AuditReport.model_validate_json(stored.read_text())
    _check(stored, report.to_json())
    _check(HERE / f"{name}.txt", report.to_text())
    _check(HERE / f"{name}.md", report.to_markdown())


class Log(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x).sum(dim=1, keepdim=True)


def test_reports_with_nan_and_inf_round_trip():
    sym = eqd.Symmetry.vectors("C4", "regular", "invariant")
    report = eqd.audit(Log(), sym, layerwise=False, gradients=False)  # log of negatives: NaN
    assert report.verdict == "FAIL"
    text = report.to_json()
    assert "NaN" in text
    again = AuditReport.model_validate_json(text)
    assert again.to_json() == text and again.to_text() == report.to_text()
