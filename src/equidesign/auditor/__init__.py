"""The auditor: measure whether any torch model respects its symmetry, localise and explain faults."""

from .audit import audit
from .compare import Change, Comparison, compare
from .levels import Level
from .lie import lie_derivative
from .report import (
    AuditReport,
    EndToEndResult,
    Finding,
    GradientResult,
    LayerResult,
    LieDerivativeResult,
    LieGeneratorResult,
    SelfCheck,
    UntestedLayer,
)

__all__ = [
    "audit",
    "compare",
    "Change",
    "Comparison",
    "lie_derivative",
    "LieDerivativeResult",
    "LieGeneratorResult",
    "AuditReport",
    "EndToEndResult",
    "Finding",
    "GradientResult",
    "LayerResult",
    "Level",
    "SelfCheck",
    "UntestedLayer",
]
