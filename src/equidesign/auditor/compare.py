"""Regression audits: compare an audit with a baseline and say what got worse.

A comparison regresses when

* the verdict worsens (PASS < NEEDS_ATTENTION < FAIL);
* a layer's level worsens (perfect -> excellent counts), or a new layer fails;
* a check that passed fails: the off-grid (interpolated) elements, the gradients, the forces;
* an error grows by more than ``tolerance`` times (default 10x) *and* ends above the excellent
  level (1e-4): end to end (on-grid and off-grid elements), any layer, the gradients, the
  forces, or a Lie derivative's LEE (compared only when both audits used the same
  normalisation and padding).

Improvements, level changes end to end, and layers or generators that appear or disappear are
listed too, but do not regress.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .levels import THRESHOLDS, Level
from .report import AuditReport

__all__ = ["Change", "Comparison", "compare"]

_VERDICTS = ["PASS", "NEEDS_ATTENTION", "FAIL"]
_LEVELS = [Level.PERFECT, Level.EXCELLENT, Level.APPROXIMATE, Level.BROKEN]
#: below this, an error's growth is round-off, not a regression
FLOOR = THRESHOLDS[Level.EXCELLENT]


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
    return after >= FLOOR and after > tolerance * max(before, 1e-12)


def _error_change(what: str, before, after, tolerance: float) -> Change | None:
    if not _grew(before, after, tolerance):
        return None
    return Change(
        what=what,
        before=f"{before:.2e}",
        after=f"{after:.2e}",
        regression=True,
        message=f"{what}: error grew {after / max(before, 1e-12):.0f}x ({before:.2e} -> "
        f"{after:.2e})",
    )


def _level_change(what: str, before, after, *, regress: bool) -> Change | None:
    """A level that changed: worse regresses when ``regress``; better is a note."""
    if before.level == after.level:
        return None
    worse = _LEVELS.index(after.level) > _LEVELS.index(before.level)
    return Change(
        what=what,
        before=before.level.value,
        after=after.level.value,
        regression=worse and regress,
        message=f"{what}: {before.level.value} -> {after.level.value} "
        f"({before.max_rel:.2e} -> {after.max_rel:.2e})",
    )


def _check(what: str, before, after, tolerance: float) -> list[Change]:
    """A pass/fail check with an error (gradients, forces, off-grid elements)."""
    if before is None or after is None:
        if (before is None) != (after is None):
            return [
                Change(
                    what=what,
                    before="absent" if before is None else before.level.value,
                    after="absent" if after is None else after.level.value,
                    regression=False,
                    message=f"{what}: {'not run before' if before is None else 'not run now'}",
                )
            ]
        return []
    if before.passed and not after.passed:
        return [
            Change(
                what=what,
                before="PASS",
                after="FAIL",
                regression=True,
                message=f"{what}: passed, now fails ({before.max_rel:.2e} -> "
                f"{after.max_rel:.2e}, {after.level.value})",
            )
        ]
    grown = _error_change(what, before.max_rel, after.max_rel, tolerance)
    if grown is not None:
        return [grown]
    level = _level_change(what, before, after, regress=False)
    return [level] if level is not None else []


def _layers(baseline: AuditReport, current: AuditReport, tolerance: float) -> list[Change]:
    changes = []
    before_layers = {layer.name: layer for layer in baseline.layers}
    after_layers = {layer.name: layer for layer in current.layers}
    for name, after in after_layers.items():
        what = f"layer {name} ({after.kind})" if after.kind else f"layer {name}"
        before = before_layers.get(name)
        if before is None:
            changes.append(
                Change(
                    what=f"layer {name}",
                    before="absent",
                    after=after.level.value,
                    regression=not after.passed,
                    message=f"{what} is new ({after.level.value})",
                )
            )
            continue
        level = _level_change(what, before, after, regress=True)
        if level is not None and level.regression:
            changes.append(level.model_copy(update={"what": f"layer {name}"}))
        elif (c := _error_change(what, before.max_rel, after.max_rel, tolerance)) is not None:
            changes.append(c.model_copy(update={"what": f"layer {name}"}))
        elif level is not None:
            changes.append(level.model_copy(update={"what": f"layer {name}"}))
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
    return changes


def _lie(baseline: AuditReport, current: AuditReport, tolerance: float) -> list[Change]:
    lb, la = baseline.lie_derivative, current.lie_derivative
    if lb is None or la is None:
        if (lb is None) != (la is None):
            return [
                Change(
                    what="Lie derivative",
                    before="absent" if lb is None else "measured",
                    after="absent" if la is None else "measured",
                    regression=False,
                    message=f"Lie derivative {'not measured before' if lb is None else 'not measured now'}",
                )
            ]
        return []
    same = (lb.normalization_kind, lb.padding) == (la.normalization_kind, la.padding)
    if not same:
        return [
            Change(
                what="Lie derivative",
                before=f"{lb.normalization_kind or 'older'} / {lb.padding}",
                after=f"{la.normalization_kind} / {la.padding}",
                regression=False,
                message="Lie derivative not compared: normalisation or padding changed "
                f"({lb.normalization_kind or 'an older normalisation'}, {lb.padding} -> "
                f"{la.normalization_kind}, {la.padding})",
            )
        ]
    changes = []
    for g, after in la.generators.items():
        before = lb.generators.get(g)
        if before is None:
            changes.append(
                Change(
                    what=f"Lie derivative {g}",
                    before="absent",
                    after=f"{after.lee:.3g}",
                    regression=False,
                    message=f"LEE along {g} is new ({after.lee:.3g})",
                )
            )
        elif _grew(before.lee, after.lee, tolerance):
            changes.append(
                Change(
                    what=f"Lie derivative {g}",
                    before=f"{before.lee:.3g}",
                    after=f"{after.lee:.3g}",
                    regression=True,
                    message=f"LEE along {g} grew {after.lee / max(before.lee, 1e-12):.0f}x "
                    f"({before.lee:.3g} -> {after.lee:.3g})",
                )
            )
    for g in lb.generators.keys() - la.generators.keys():
        why = la.skipped.get(g, "not requested")
        changes.append(
            Change(
                what=f"Lie derivative {g}",
                before=f"{lb.generators[g].lee:.3g}",
                after="absent",
                regression=False,
                message=f"LEE along {g} is no longer measured ({why})",
            )
        )
    return changes


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
    elif (c := _level_change("end to end", eb, ea, regress=False)) is not None:
        changes.append(c)
    changes += _check("off-grid elements", eb.interpolated, ea.interpolated, tolerance)
    changes += _layers(baseline, current, tolerance)
    changes += _check("gradients", baseline.gradient, current.gradient, tolerance)
    changes += _check("forces", baseline.forces, current.forces, tolerance)
    changes += _lie(baseline, current, tolerance)
    return Comparison(
        regressed=any(c.regression for c in changes),
        verdict_before=vb,
        verdict_after=va,
        tolerance=tolerance,
        changes=changes,
    )
