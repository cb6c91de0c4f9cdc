"""Small helpers for the tensor-like values that flow through models (tensors, GeometricTensors)."""

from __future__ import annotations

import sys
from typing import Any

import torch

from ..errors import AuditError

__all__ = [
    "unwrap",
    "rewrap",
    "is_geometric",
    "per_sample_norm",
    "relative_errors",
    "rows_are_parts",
    "run_chunked",
    "copies_per_pass",
    "pass_groups",
]


def is_geometric(value: Any) -> bool:
    """True for an escnn GeometricTensor (without importing escnn when it is not loaded)."""
    enn = sys.modules.get("escnn.nn")
    return enn is not None and isinstance(value, enn.GeometricTensor)


def unwrap(value: Any) -> torch.Tensor | None:
    """The torch tensor inside ``value`` (a tensor or a GeometricTensor), else None."""
    if isinstance(value, torch.Tensor):
        return value
    if is_geometric(value):
        return value.tensor
    return None


def rewrap(template: Any, tensor: torch.Tensor) -> Any:
    """``tensor`` in the same wrapper as ``template`` (a GeometricTensor keeps its type)."""
    if is_geometric(template):
        enn = sys.modules["escnn.nn"]
        coords = getattr(template, "coords", None)
        if coords is not None:
            return enn.GeometricTensor(tensor, template.type, coords)
        return enn.GeometricTensor(tensor, template.type)
    return tensor


def model_output(value: Any, what: str = "the model") -> torch.Tensor:
    """The output tensor of a model call; a clear error for outputs the audit cannot compare."""
    tensor = unwrap(value)
    if tensor is None and isinstance(value, (tuple, list)) and len(value) == 1:
        tensor = unwrap(value[0])
    if tensor is None:
        raise AuditError(
            f"{what} returned {type(value).__name__}; the auditor compares one tensor: return a "
            "tensor or GeometricTensor, or wrap the model so that it does"
        )
    return tensor


def per_sample_norm(x: torch.Tensor, sample_dims: int) -> torch.Tensor:
    """L2 norm over the trailing ``x.dim() - sample_dims`` axes: shape ``x.shape[:sample_dims]``."""
    # the norm in the tensor's own dtype (float32 sums of squares are accurate to ~1e-7 relative,
    # far below the 1e-6 level boundary); converting whole feature maps to float64 costs more
    # than the layer under test
    flat = x.reshape(*x.shape[:sample_dims], -1)
    if not flat.is_floating_point():
        flat = flat.to(torch.float64)
    return torch.linalg.vector_norm(flat, dim=-1).to(torch.float64)


def relative_errors(
    actual: torch.Tensor,
    expected: torch.Tensor,
    diff: torch.Tensor | None = None,
    *,
    typical: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute and relative errors per (element, sample), for tensors ``(G, B, ...)``.

    The relative error divides by the norm of the expected sample, floored at 1e-3 of the mean
    sample norm so that a sample whose output happens to be near zero does not blow up. With
    ``typical`` (rows that are parts of one sample: atoms, nodes) the floor is the mean row norm
    itself: a near-zero force on one atom is judged against the forces' typical size, where
    float32 round-off (~1e-7 of it) cannot read as an equivariance error.
    """
    err = per_sample_norm(actual - expected if diff is None else diff, 2)
    scale = per_sample_norm(expected, 2)
    fraction = 1.0 if typical else 1e-3
    floor = fraction * scale.mean().clamp_min(torch.finfo(torch.float64).tiny)
    return err, err / scale.clamp_min(floor)


def rows_are_parts(action: Any) -> bool:
    """The action's rows are the nodes (atoms) of graphs, not whole samples."""
    return bool(getattr(action, "reorders_rows", False))


def copies_per_pass(chunk: int | None, samples: int, copies: int) -> int:
    """How many whole copies of the inputs (``samples`` each) one pass holds under ``chunk``
    samples at most (all ``copies`` when None; at least one)."""
    return copies if chunk is None else max(1, min(copies, chunk // max(samples, 1)))


def pass_groups(elements: list, per: int, original: bool = True) -> list[tuple[list, bool]]:
    """The elements of each pass of ``per`` copies: ``(elements, holds x)``. With ``original``
    the first pass holds ``x`` and ``per - 1`` copies; passes without elements are left out."""
    groups = []
    start = 0
    if original:
        groups.append((elements[: per - 1], True))
        start = max(per - 1, 0)
    groups += [(elements[i : i + per], False) for i in range(start, len(elements), per)]
    return [(g, holds_x) for g, holds_x in groups if g or holds_x]


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def run_chunked(fn, batch: torch.Tensor, chunk: int | None) -> Any:
    """``fn(batch)`` in chunks of at most ``chunk`` samples (all at once when None).

    On an out-of-memory error the chunk size is halved and the call retried.
    """
    n = batch.shape[0]
    size = n if chunk is None else max(1, min(chunk, n))
    while True:
        try:
            outs = [fn(batch[i : i + size]) for i in range(0, n, size)]
            if len(outs) == 1:
                return outs[0]
            return torch.cat(outs, 0)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not is_oom(exc) or size == 1:
                raise
            size = max(1, size // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
