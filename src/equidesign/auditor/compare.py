"""Regression audits: compare an audit with a baseline and say what got worse.

A comparison regresses when

* the verdict worsens (PASS < NEEDS_ATTENTION < FAIL);
* a layer's level worsens, or a layer that passed now fails;
* an error grows by more than ``tolerance`` times (default 10x) *and* ends above the excellent
  level (1e-4): end to end, any layer, the gradients, or a Lie derivative's LEE.

Improvements and layers that appear or disappear are listed too, but do not regress.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .levels import THRESHOLDS, Level
from .report import AuditReport

__all__ = ["Change", "Comparison", "compare"]

_VERDICTS = ["PASS", "NEEDS_ATTENTION", "FAIL"]
_LEVELS = [Level.PERFECT, Level.EXCELLENT, Level.APPROXIMATE, Level.BROKEN]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")

    what: str
    before: str
    after: str
    regression: bool
    message: str


class Comparison(BaseModel):
    """The result of :func:`compare`: ``regressed`` and the list of changes."""

    model_config = ConfigDict(extra="forbid")

    regressed: bool
    verdict_before: str
    verdict_after: str
    tolerance: float
    changes: list[Change] = Field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def to_text(self) -> str:
        head = (
            f"REGRESSION: {len(self.regressions)} change(s) got worse"
            if self.regressed
            else "no regression"
        )
        lines = [f"{head} (verdict {self.verdict_before} -> {self.verdict_after})"]
        lines += [f"- {'WORSE' if c.regression else 'note '} {c.message}" for c in self.changes]
        return "\n".join(lines) + "\n"


def _grew(before: float | None, after: float | None, tolerance: float) -> bool:
    if before is None or after is None:
        return False
    above = after >= THRESHOLDS[Level.EXCELLENT]
    return above and after > tolerance * max(before, 1e-12)


def _error_change(what: str, before, after, tolerance: float) -> Change | None:
    if before is None or after is None or before == after:
        return None
    if _grew(before, after, tolerance):
        return Change(
            what=what,
            before=f"{before:.2e}",
            after=f"{after:.2e}",
            regression=True,
            message=f"{what}: error grew {after / max(before, 1e-12):.0f}x ({before:.2e} -> "
            f"{after:.2e})",
        )
    return None


def compare(baseline: AuditReport, current: AuditReport, *, tolerance: float = 10.0) -> Comparison:
    """Compare ``current`` with ``baseline`` (reports, or JSON text of reports)."""
    if isinstance(baseline, str):
        baseline = AuditReport.model_validate_json(baseline)
    if isinstance(current, str):
        current = AuditReport.model_validate_json(current)
    changes: list[Change] = []
    vb, va = baseline.verdict, current.verdict
    if vb != va:
        worse = _VERDICTS.index(va) > _VERDICTS.index(vb)
        changes.append(
            Change(
                what="verdict",
                before=vb,
                after=va,
                regression=worse,
                message=f"verdict {vb} -> {va}",
            )
        )
    eb, ea = baseline.end_to_end, current.end_to_end
    if (c := _error_change("end to end", eb.max_rel, ea.max_rel, tolerance)) is not None:
        changes.append(c)
    before_layers = {layer.name: layer for layer in baseline.layers}
    after_layers = {layer.name: layer for layer in current.layers}
    for name, after in after_layers.items():
        before = before_layers.get(name)
        if before is None:
            changes.append(
                Change(
                    what=f"layer {name}",
                    before="absent",
                    after=after.level.value,
                    regression=not after.passed,
                    message=f"layer {name} is new ({after.level.value})",
                )
            )
            continue
        worse = _LEVELS.index(after.level) > _LEVELS.index(before.level)
        if worse and (not after.passed or before.passed != after.passed):
            changes.append(
                Change(
                    what=f"layer {name}",
                    before=before.level.value,
                    after=after.level.value,
                    regression=True,
                    message=f"layer {name}: {before.level.value} -> {after.level.value} "
                    f"({before.max_rel:.2e} -> {after.max_rel:.2e})",
                )
            )
        elif c := _error_change(f"layer {name}", before.max_rel, after.max_rel, tolerance):
            changes.append(c)
    for name in before_layers.keys() - after_layers.keys():
        changes.append(
            Change(
                what=f"layer {name}",
                before=before_layers[name].level.value,
                after="absent",
                regression=False,
                message=f"layer {name} is no longer tested",
            )
        )
    gb, ga = baseline.gradient, current.gradient
    if gb is not None and ga is not None:
        if (c := _error_change("gradients", gb.max_rel, ga.max_rel, tolerance)) is not None:
            changes.append(c)
    lb, la = baseline.lie_derivative, current.lie_derivative
    if lb is not None and la is not None:
        for g, after in la.generators.items():
            before = lb.generators.get(g)
            if before is not None and after.lee > tolerance * max(before.lee, 1e-12):
                changes.append(
                    Change(
                        what=f"Lie derivative {g}",
                        before=f"{before.lee:.3g}",
                        after=f"{after.lee:.3g}",
                        regression=True,
                        message=f"LEE along {g} grew {after.lee / max(before.lee, 1e-12):.0f}x",
                    )
                )
    return Comparison(
        regressed=any(c.regression for c in changes),
        verdict_before=vb,
        verdict_after=va,
        tolerance=tolerance,
        changes=changes,
    )
