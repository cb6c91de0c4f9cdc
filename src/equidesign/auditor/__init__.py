"""The auditor: measure whether any torch model respects its symmetry, localise and explain faults."""

from .audit import audit
from .levels import Level
from .report import (
    AuditReport,
    EndToEndResult,
    Finding,
    GradientResult,
    LayerResult,
    SelfCheck,
    UntestedLayer,
)

__all__ = [
    "audit",
    "AuditReport",
    "EndToEndResult",
    "Finding",
    "GradientResult",
    "LayerResult",
    "Level",
    "SelfCheck",
    "UntestedLayer",
]
