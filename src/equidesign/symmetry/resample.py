r"""Resampling a grid signal under a linear map of the base space, in torch.

For an element :math:`g` acting on :math:`\mathbb{R}^d` by the matrix :math:`A_g`, the transformed
signal is :math:`f'(p) = f(A_g^{-1} p)`, with :math:`p` measured from the grid's centre. The
conventions follow escnn: the tensor's spatial axes are ``[..., -Y, X]`` in 2D and
``[..., -Z, -Y, X]`` in 3D.

Where :math:`A_g^{-1}` maps every grid point onto a grid point (multiples of 90°, the flips), the
map is a gather by index and exact. Otherwise it is (bi/tri)linear interpolation with zero
padding, written with gathers rather than ``grid_sample`` so that forward-mode AD works through it
and the taps are ours to report.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

__all__ = ["GridMap", "source_coordinates"]

_EXACT_TOL = 1e-6


def source_coordinates(inverse_mats: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Index-space coordinates each output pixel reads from.

    Args:
        inverse_mats: ``(G, d, d)`` float64 matrices :math:`A_g^{-1}` in escnn's ``(x, y[, z])`` order.
        shape: the spatial shape ``(H, W)`` or ``(D, H, W)``.

    Returns:
        ``(G, prod(shape), d)`` float64 source coordinates in tensor-axis order.
    """
    d = len(shape)
    axes = [torch.arange(n, dtype=torch.float64) - (n - 1) / 2 for n in shape]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, d)
    # tensor axis k holds coordinate (d-1-k) with sign - except the last axis (x), which is +
    signs = torch.tensor([-1.0] * (d - 1) + [1.0], dtype=torch.float64)
    points = (grid * signs).flip(-1)  # (P, d) in (x, y[, z]) order
    src = torch.einsum("gab,pb->gpa", inverse_mats, points)
    src_axes = src.flip(-1) * signs
    centre = torch.tensor([(n - 1) / 2 for n in shape], dtype=torch.float64)
    return src_axes + centre


def _keys(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys' cubic convolution kernel at distances ``t`` (per axis)."""
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def square_op(x: torch.Tensor, op: tuple[int, bool]) -> torch.Tensor:
    """One of the 8 symmetries of a square grid on the last two axes."""
    turns, flip = op
    if flip:
        x = x.flip(-1)
    return torch.rot90(x, turns, (-2, -1)) if turns else x


def _square_ops(index: torch.Tensor, shape: tuple[int, ...]) -> list[tuple[int, bool]] | None:
    """Match each element's exact index map with a rot90/flip of the grid, if all match."""
    if len(shape) != 2 or shape[0] != shape[1]:
        return None
    grid = torch.arange(shape[0] * shape[1]).reshape(shape)
    candidates = {
        (k, f): square_op(grid, (k, f)).reshape(-1) for k in range(4) for f in (False, True)
    }
    ops = []
    for row in index:
        match = next((op for op, c in candidates.items() if torch.equal(c, row)), None)
        if match is None:
            return None
        ops.append(match)
    return ops


@dataclass
class GridMap:
    """The sparse linear map of a grid signal for a batch of group elements.

    Each output pixel is ``sum_k w[g, p, k] * x[..., idx[g, p, k]]`` with ``K = 1`` tap for
    exact elements and ``2^d`` taps for interpolated ones.
    """

    shape: tuple[int, ...]
    index: torch.Tensor  # (G, P, K) long
    weight: torch.Tensor | None  # (G, P, K) float64, None when every element is exact
    exact: torch.Tensor  # (G,) bool
    #: for square 2D grids where every element is exact: (quarter turns, flip) per element, so
    #: that the map is torch.rot90/flip (strided copies) instead of a gather
    ops: list[tuple[int, bool]] | None = None

    @classmethod
    def build(cls, inverse_mats: torch.Tensor, shape: tuple[int, ...]) -> GridMap:
        src = source_coordinates(inverse_mats, shape)  # (G, P, d)
        size = torch.tensor(shape, dtype=torch.float64)
        rounded = src.round()
        inside = ((rounded >= 0) & (rounded <= size - 1)).all(-1)
        exact = ((src - rounded).abs() < _EXACT_TOL).all(-1).all(-1) & inside.all(-1)
        strides = torch.tensor(
            [int(torch.tensor(shape[k + 1 :]).prod()) for k in range(len(shape))], dtype=torch.long
        )
        if bool(exact.all()):
            index = (rounded.long() * strides).sum(-1, keepdim=True)
            return cls(tuple(shape), index, None, exact, _square_ops(index[..., 0], shape))
        return cls._interpolated(src, rounded, exact, shape, strides)

    @classmethod
    def _interpolated(cls, src, rounded, exact, shape, strides) -> GridMap:
        """Cubic convolution (Keys, a = -0.5): 4 taps per axis, exact on quadratics."""
        d = len(shape)
        base = src.floor()
        frac = src - base
        size = torch.tensor(shape, dtype=torch.float64)
        indices, weights = [], []
        for corner in itertools.product((-1, 0, 1, 2), repeat=d):
            offset = torch.tensor(corner, dtype=torch.float64)
            pos = base + offset
            w = _keys(frac - offset).prod(-1)
            valid = ((pos >= 0) & (pos <= size - 1)).all(-1)
            w = torch.where(valid, w, torch.zeros_like(w))
            idx = (pos.clamp(min=0).minimum(size - 1).long() * strides).sum(-1)
            indices.append(idx)
            weights.append(w)
        index = torch.stack(indices, -1)
        weight = torch.stack(weights, -1)
        # exact elements keep one tap of weight one (no interpolation blur)
        exact_index = (rounded.long().clamp(min=0) * strides).sum(-1)
        for g in torch.nonzero(exact).flatten().tolist():
            index[g] = exact_index[g].unsqueeze(-1).expand_as(index[g])
            weight[g] = 0
            weight[g, :, 0] = 1
        return cls(tuple(shape), index, weight, exact)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Transform ``x`` of shape ``(..., *shape)`` by every element: ``(G, ..., *shape)``."""
        if self.ops is not None:
            return torch.stack([square_op(x, op) for op in self.ops])
        d = len(self.shape)
        lead = x.shape[:-d]
        flat = x.reshape(*lead, -1)
        index = self.index.to(x.device)
        G, P, K = index.shape
        gathered = flat[..., index.reshape(-1)].reshape(*lead, G, P, K)
        if self.weight is None:
            out = gathered[..., 0]
        else:
            w = self.weight.to(device=x.device, dtype=x.dtype)
            out = (gathered * w).sum(-1)
        out = out.movedim(-2, 0)  # (G, ..., P)
        return out.reshape(G, *lead, *self.shape)
