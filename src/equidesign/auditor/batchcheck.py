"""Batch dependence: does a sample give the same output alone as inside the audit's batch?

The end-to-end test puts every transformed copy of the inputs in one forward pass. A model whose
output for a sample depends on what else is in the pass -- ``torch.cdist`` switches to a matrix
product beyond 25 points (e3nn's ``gate_points_2101``: self-distances of ~1e-3 appear, and with
them self-edges), a fixed-size buffer, an embedding of node indices, statistics over the batch
in eval mode -- would then fail (or raise) for a reason that has nothing to do with the group.

:func:`check_batch` compares ``model(x)`` alone with ``x``'s share of the batched pass. When they
differ, it finds the smallest number of copies in one pass at which they start to, and the
audit takes its equivariance verdict from element-by-element passes (each copy alone), reporting
the batched error beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..symmetry import Symmetry
from ._autograd import plain_model_grads
from ._tensors import model_output, relative_errors

__all__ = ["BatchCheck", "check_batch", "alone_output", "onset", "BATCH_TOLERANCE"]

#: a sample alone and inside the batch differ when their outputs differ by more than this
#: (relative): the passes round differently (matrix products are blocked by their size), and a
#: model that is broken anyway can amplify that to ~1e-3; cdist's switch gives O(1)
BATCH_TOLERANCE = 1e-2


@dataclass
class BatchCheck:
    """``max_rel``: ``model(x)`` alone against ``x`` inside the batched pass (None when the
    batched pass raised: ``error``). ``onset``: the fewest copies in one pass that differ."""

    max_rel: float | None
    passed: bool
    copies: int
    onset: int | None = None
    onset_rows: str = ""
    error: str = ""
    batched_max_rel: float | None = None  # the end-to-end error of the batched pass
    what: str = "x"
    element: str = ""  # the element of the copy compared, when it is one

    def detail(self) -> str:
        if self.passed:
            return (
                f"model({self.what}) alone matches {self.what} inside the batched pass of "
                f"{self.copies} copies ({self.max_rel:.1e})"
            )
        if self.error:
            head = (
                f"the batched pass of {self.copies} copies raised ({self.error}) where "
                f"model({self.what}) alone does not"
            )
        else:
            head = (
                f"model({self.what}) alone differs from {self.what} inside the batched pass of "
                f"{self.copies} copies by {self.max_rel:.1e}"
            )
        if self.element:
            head += f" (g = {self.element})"
        if self.onset is not None:
            head += f"; it starts at {self.onset} copies in one pass ({self.onset_rows})"
        head += "; the equivariance verdict comes from element-by-element passes"
        if self.batched_max_rel is not None:
            head += f" (the batched pass erred {self.batched_max_rel:.1e})"
        return head


def _forward(model: torch.nn.Module, symmetry: Symmetry, batch: Any) -> torch.Tensor:
    # grad enabled: force fields differentiate inside forward (their outputs are compared, not
    # differentiated: no second-order graph)
    with torch.enable_grad(), plain_model_grads():
        return model_output(model(symmetry.model_input(model, batch))).detach()


def alone_output(model: torch.nn.Module, symmetry: Symmetry, x: Any) -> torch.Tensor:
    """``model(x)``: the inputs alone, in one pass."""
    return _forward(model, symmetry, symmetry.io.stack(x, []))


def _differs(model, symmetry, x, alone, others) -> bool:
    """Does x's share of one pass of ``[x, *others]`` differ from ``model(x)`` alone?"""
    io = symmetry.io
    try:
        out = _forward(model, symmetry, io.stack(x, others))
    except Exception:  # raising at this size is differing
        return True
    first = io.split(out, len(others) + 1)[0]
    return not _same(first, alone)


def _difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max relative difference of two outputs of the same input (inf when shapes differ)."""
    if a.shape != b.shape:
        return float("inf")
    _, rel = relative_errors(a.unsqueeze(0), b.unsqueeze(0))
    return float(rel.max()) if rel.numel() else 0.0


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return _difference(a, b) <= BATCH_TOLERANCE


def _rows(symmetry: Symmetry, x: Any, copies: int) -> str:
    """What a pass of ``copies`` copies holds: samples, or nodes for graphs."""
    batch = symmetry.io._batch(x) if hasattr(symmetry.io, "_batch") else None
    nodes = getattr(batch, "num_nodes", None)
    if nodes is not None:
        return f"{copies * int(nodes)} nodes"
    return f"{copies * symmetry.io.samples(x)} samples"


def onset(model, symmetry: Symmetry, x: Any, alone: torch.Tensor, elements) -> int | None:
    """The fewest copies in one pass -- x followed by its first transformed copies, as the
    audit batches them -- at which x's share differs from ``model(x)`` alone (a bisection; None
    when even the whole batch matches)."""
    elements = list(elements)
    lo, hi = 1, len(elements) + 1  # lo copies match, hi copies differ
    if not _differs(model, symmetry, x, alone, elements):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _differs(model, symmetry, x, alone, elements[: mid - 1]):
            hi = mid
        else:
            lo = mid
    return hi


def check_batch(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: Any,
    batched_y: torch.Tensor | None,
    elements,
    error: str = "",
    alone: torch.Tensor | None = None,
    what: str = "x",
    element: str = "",
) -> BatchCheck:
    """Compare ``model(x)`` alone (``alone``, computed when None) with ``batched_y`` (x's share
    of the pass of x and its copies by ``elements``), or, when the batched pass raised
    (``error``), say that it did. ``what`` names the input in the report (``x``, or a
    transformed copy ``g·x``)."""
    copies = len(elements) + 1
    if alone is None:
        alone = alone_output(model, symmetry, x)
    if batched_y is not None:
        value = _difference(batched_y, alone)
        if value <= BATCH_TOLERANCE:
            return BatchCheck(max_rel=value, passed=True, copies=copies, what=what, element=element)
    else:
        value = None
    check = BatchCheck(
        max_rel=value, passed=False, copies=copies, error=error, what=what, element=element
    )
    try:
        check.onset = onset(model, symmetry, x, alone, elements)
    except Exception:  # the search is evidence only
        check.onset = None
    if check.onset is not None:
        check.onset_rows = _rows(symmetry, x, check.onset)
    return check
