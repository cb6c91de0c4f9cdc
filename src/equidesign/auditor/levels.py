"""Error levels: the audit guide's thresholds on relative equivariance error.

=============  ====================  =======================
level          relative error        verdict contribution
=============  ====================  =======================
perfect        < 1e-6                pass
excellent      < 1e-4                pass
approximate    < 1e-2                needs attention
broken         >= 1e-2               fail
=============  ====================  =======================

Elements applied by interpolation (rotations off the pixel grid) are judged against the
interpolation error of the input itself (rotate, then rotate back): :func:`classify_interpolated`.
"""

from __future__ import annotations

import math
from enum import Enum

import torch

__all__ = [
    "Level",
    "THRESHOLDS",
    "classify",
    "classify_interpolated",
    "passes",
    "worst",
    "INTERPOLATION_RATIO_PASS",
    "INTERPOLATION_RATIO_BROKEN",
    "audit_dtype",
]


class Level(str, Enum):
    PERFECT = "perfect"
    EXCELLENT = "excellent"
    APPROXIMATE = "approximate"
    BROKEN = "broken"


THRESHOLDS = {Level.PERFECT: 1e-6, Level.EXCELLENT: 1e-4, Level.APPROXIMATE: 1e-2}
_ORDER = [Level.PERFECT, Level.EXCELLENT, Level.APPROXIMATE, Level.BROKEN]

#: an interpolated element passes when the model's error is at most this many times the
#: interpolation error of its own input (rotate and rotate back), and is broken beyond
#: ``INTERPOLATION_RATIO_BROKEN`` times. Calibrated on escnn C8/SO(2) CNNs (ratios 0.2-1.5) and
#: plain CNNs (ratios 10-100) on smooth, disk-masked inputs.
INTERPOLATION_RATIO_PASS = 3.0
INTERPOLATION_RATIO_BROKEN = 10.0


def classify(rel: float) -> Level:
    """The level of a relative error (NaN and inf are broken)."""
    if not math.isfinite(rel):
        return Level.BROKEN
    for level in _ORDER[:-1]:
        if rel < THRESHOLDS[level]:
            return level
    return Level.BROKEN


def classify_interpolated(rel: float, floor: float) -> Level:
    """The level of an error measured through interpolation, against its interpolation floor."""
    if not math.isfinite(rel):
        return Level.BROKEN
    exact_level = classify(rel)
    if exact_level in (Level.PERFECT, Level.EXCELLENT):
        return exact_level
    ratio = rel / max(floor, 1e-12)
    if ratio <= INTERPOLATION_RATIO_PASS:
        return Level.EXCELLENT
    if ratio <= INTERPOLATION_RATIO_BROKEN:
        return Level.APPROXIMATE
    return Level.BROKEN


def passes(level: Level) -> bool:
    return level in (Level.PERFECT, Level.EXCELLENT)


def worst(levels) -> Level:
    levels = list(levels)
    if not levels:
        return Level.PERFECT
    return max(levels, key=_ORDER.index)


def audit_dtype(model_dtype: torch.dtype, requested: torch.dtype | None) -> torch.dtype:
    """The dtype the audit runs in: the request, else the model's (half precision -> float32)."""
    if requested is not None:
        return requested
    if model_dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return model_dtype
