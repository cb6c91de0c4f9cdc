"""Assertions for a project's own tests: ``assert_equivariant(model, symmetry, ...)``.

Compute (``equidesign.audit``) and assert are separate: this layer only decides and raises, with
the report's text as the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["assert_equivariant", "EquivarianceAssertionError"]


class EquivarianceAssertionError(AssertionError):
    """An audit that did not reach the allowed verdicts; ``reports`` holds every audit run."""

    def __init__(self, message: str, reports: list):
        super().__init__(message)
        self.reports = reports


def assert_equivariant(
    model: Any,
    symmetry: Any,
    inputs: Any = None,
    *,
    dtypes: Sequence[Any] = ("float32", "float64"),
    allow: Sequence[str] = ("PASS",),
    **audit_kwargs: Any,
) -> list:
    """Audit ``model`` in each dtype and raise unless every verdict is in ``allow``.

    Returns the reports (one per dtype). The model is converted for the float64 run and
    restored afterwards (the audit never leaves a trace on it).
    """
    __tracebackhide__ = True
    import torch

    from .auditor import audit

    reports = []
    for dtype in dtypes:
        torch_dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        report = audit(model, symmetry, inputs, dtype=torch_dtype, **audit_kwargs)
        reports.append(report)
        if report.verdict not in allow:
            raise EquivarianceAssertionError(
                f"{report.model} is not equivariant in {report.settings.dtype}: "
                f"{report.summary}\n\n{report.to_text()}",
                reports,
            )
    return reports
