r"""Group actions on tensors, batched over group elements.

An :class:`Action` says how a group element transforms one tensor. ``apply(elements, x)`` returns
every transformed copy at once, shape ``(len(elements), *x.shape)``, so an audit can push all
copies through a model in one forward pass.

* :class:`TrivialAction` -- invariance: :math:`\rho(g) = I`.
* :class:`RepAction` -- a linear representation on the last axis (vectors, symm-learning layers).
* :class:`FieldAction` -- a feature field on a 2D/3D grid (escnn ``FieldType``):
  :math:`[g\cdot f](p) = \rho(g) f(A_g^{-1} p)`.
* :class:`CustomAction` -- a user function ``act(g, x)``, applied element by element.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import SymmetryError
from .resample import GridMap, square_op

__all__ = [
    "TestElement",
    "Action",
    "TrivialAction",
    "RepAction",
    "FieldAction",
    "CustomAction",
    "PermutationAction",
    "FiberMap",
]


@dataclass(frozen=True, eq=False)
class TestElement:
    """A group element the audit tests, with how it is applied.

    Attributes:
        label: a stable, readable name (``"rot 90°"``, ``"flip·rot 45°"``, ``"g3"``).
        value: the library's element (escnn ``GroupElement``) or the user's object.
        exact: False where the element is applied by interpolation (off the pixel grid).
        identity: True for the identity element.
    """

    label: str
    value: Any
    exact: bool = True
    identity: bool = False

    def __repr__(self) -> str:
        return f"TestElement({self.label!r}{'' if self.exact else ', interpolated'})"


class Action(ABC):
    """How a group acts on one kind of tensor."""

    #: True when every element acts by an orthogonal map (norms are preserved), so the
    #: transpose of ``g`` is the action of ``g^{-1}``.
    orthogonal: bool = True
    #: True when elements reorder the rows (nodes) of the tensor: a layer test then relabels
    #: the graph structure (edge indices) passed with it; otherwise indices stay as recorded.
    reorders_rows: bool = False

    @abstractmethod
    def apply(self, elements: Sequence[TestElement], x: torch.Tensor) -> torch.Tensor:
        """All transformed copies of ``x``: shape ``(len(elements), *x.shape)``."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, for reports."""

    def check(self, x: torch.Tensor) -> None:  # noqa: B027 - optional hook
        """Raise :class:`SymmetryError` when ``x`` cannot carry this action."""

    @property
    def is_trivial(self) -> bool:
        return False

    def rows_fixed(self) -> Action:
        """This action without its reordering of rows (the rigid-motion part on point clouds)."""
        return self

    def is_permutation(self) -> bool | None:
        """Whether every element acts on channels by a permutation (pointwise maps commute).

        ``None`` when unknown.
        """
        return None

    def rep_names(self) -> str:
        return self.describe()


class TrivialAction(Action):
    """The trivial action: invariance."""

    def apply(self, elements, x):
        return x.unsqueeze(0).expand(len(elements), *x.shape)

    def describe(self) -> str:
        return "invariant (trivial action)"

    @property
    def is_trivial(self) -> bool:
        return True

    def is_permutation(self) -> bool:
        return True


@dataclass
class FiberMap:
    """The matrices of a representation for a batch of elements, with a gather fast path.

    When every matrix is a signed permutation (regular, quotient and trivial representations,
    the irreps of D4 ...), applying it is a gather along the channel axis instead of a matmul.
    """

    matrices: torch.Tensor  # (G, C, C) float64
    perm: torch.Tensor | None = None  # (G, C) long: output channel i reads input channel perm[i]
    sign: torch.Tensor | None = None  # (G, C)

    @classmethod
    def build(cls, matrices: np.ndarray | torch.Tensor) -> FiberMap:
        m = torch.as_tensor(np.asarray(matrices), dtype=torch.float64)
        rounded = m.round()
        signed_perm = (
            ((m - rounded).abs() < 1e-9).all()
            and bool((rounded.abs().sum(-1) == 1).all())
            and bool((rounded.abs().sum(-2) == 1).all())
        )
        if not signed_perm:
            return cls(m)
        perm = rounded.abs().argmax(-1)
        sign = rounded.gather(-1, perm.unsqueeze(-1)).squeeze(-1)
        return cls(m, perm, sign)

    @property
    def is_permutation(self) -> bool:
        return self.perm is not None and bool((self.sign > 0).all())

    def apply(self, x: torch.Tensor, channel_dim: int) -> torch.Tensor:
        """``x`` has the element axis first: ``(G, ..., C at channel_dim, ...)``."""
        channel_dim = channel_dim % x.dim()
        if self.perm is not None:
            G = x.shape[0]
            view = [G] + [1] * (x.dim() - 1)
            view[channel_dim] = x.shape[channel_dim]
            perm = self.perm.to(x.device).reshape(view).expand_as(x)
            out = torch.gather(x, channel_dim, perm)
            if bool((self.sign < 0).any()):
                out = out * self.sign.to(device=x.device, dtype=x.dtype).reshape(view)
            return out
        m = self.matrices.to(device=x.device, dtype=x.dtype)
        moved = x.movedim(channel_dim, -1)
        out = torch.einsum("gij,g...j->g...i", m, moved)
        return out.movedim(-1, channel_dim)


class _MatrixCache:
    """Per-action cache of element batches -> prepared maps (keys are element labels)."""

    def __init__(self):
        self._store: dict[Any, Any] = {}

    def get(self, key, build: Callable[[], Any], keep: Any = None):
        if key not in self._store:
            self._store[key] = (keep, build())
        return self._store[key][1]


def _element_key(elements: Sequence[TestElement]) -> tuple:
    """Elements by identity (labels of sampled elements can repeat across seeds); the cached
    values keep the elements alive, so an id is never reused while its entry exists."""
    return tuple(id(e) for e in elements)


# Grid maps depend only on the gspace, the elements and the spatial shape.
_GRIDS: dict[tuple, tuple[Any, GridMap]] = {}

# Matrices of one representation at one element, shared by every action: a model's layers
# declare many field types built from the same few representations (escnn builds a field
# type's matrix as a sparse block-diagonal, which is slow to do per layer and element).
_REP_MATRICES: dict[tuple[int, int], tuple[Any, Any, np.ndarray]] = {}


def rep_matrix(rep: Any, element: TestElement) -> np.ndarray:
    key = (id(rep), id(element))
    hit = _REP_MATRICES.get(key)
    if hit is None or hit[0] is not rep or hit[1] is not element:
        if len(_REP_MATRICES) > 20000:
            _REP_MATRICES.clear()
        hit = (rep, element, np.asarray(rep(element.value), dtype=np.float64))
        _REP_MATRICES[key] = hit
    return hit[2]


def block_diagonal(reps: Sequence[Any], elements: Sequence[TestElement]) -> np.ndarray:
    """``(G, C, C)`` matrices of the direct sum of ``reps`` at every element."""
    size = sum(r.size for r in reps)
    out = np.zeros((len(elements), size, size))
    for g, e in enumerate(elements):
        start = 0
        for r in reps:
            out[g, start : start + r.size, start : start + r.size] = rep_matrix(r, e)
            start += r.size
    return out


def rep_label(rep: Any) -> str:
    """'trivial' and 'regular' for escnn's own names of those representations."""
    group = getattr(rep, "group", None)
    if group is not None:
        if rep.name == group.trivial_representation.name:
            return "trivial"
        if group.order() > 0 and rep.name == group.regular_representation.name:
            return "regular"
    return rep.name.removesuffix("-Iso")  # symm-learning's isotypic copy of the same rep


class RepAction(Action):
    """A linear representation acting on one axis (the last by default).

    Args:
        rep: an escnn ``Representation`` (or any callable ``g -> (D, D) array``).
        dim: the axis the representation acts on.
        name: the name shown in reports.
    """

    def __init__(self, rep: Any, dim: int = -1, name: str | None = None):
        self.rep = rep
        self.dim = dim
        self.size = int(getattr(rep, "size", 0)) or None
        self.name = name or (rep_label(rep) if hasattr(rep, "group") else "representation")
        self._cache = _MatrixCache()

    def fiber(self, elements: Sequence[TestElement]) -> FiberMap:
        def build():
            if hasattr(self.rep, "irreps") and hasattr(self.rep, "size"):
                return FiberMap.build(block_diagonal([self.rep], elements))
            mats = np.stack([np.asarray(self.rep(e.value), dtype=np.float64) for e in elements])
            return FiberMap.build(mats)

        return self._cache.get(_element_key(elements), build, keep=list(elements))

    def check(self, x: torch.Tensor) -> None:
        if self.size is not None and x.shape[self.dim] != self.size:
            raise SymmetryError(
                f"input shape {tuple(x.shape)}: axis {self.dim} has {x.shape[self.dim]} entries but "
                f"the representation {self.name!r} has dimension {self.size}"
            )

    def apply(self, elements, x):
        self.check(x)
        copies = x.unsqueeze(0).expand(len(elements), *x.shape)
        dim = self.dim if self.dim < 0 else self.dim + 1
        return self.fiber(elements).apply(copies, dim)

    def is_permutation(self) -> bool | None:
        supported = getattr(self.rep, "supported_nonlinearities", None)
        if supported is None:
            return None
        return "pointwise" in supported

    def describe(self) -> str:
        return f"{self.name} (dim {self.size}) on axis {self.dim}"


class FieldAction(Action):
    r"""A feature field on a grid: :math:`[g\cdot f](p) = \rho(g) f(A_g^{-1} p)`.

    Args:
        field_type: an escnn ``FieldType`` (channels = its size) over an ``R^2``/``R^3`` gspace.
        spatial: whether the base space moves too (False for fields already pooled to a point).
    """

    def __init__(self, field_type: Any, spatial: bool = True):
        self.field_type = field_type
        self.gspace = field_type.gspace
        self.d = int(self.gspace.dimensionality)
        self.size = int(field_type.size)
        self.spatial = spatial
        self._fibers = _MatrixCache()

    def fiber(self, elements: Sequence[TestElement]) -> FiberMap:
        def build():
            return FiberMap.build(block_diagonal(self.field_type.representations, elements))

        return self._fibers.get(_element_key(elements), build, keep=list(elements))

    def grid(self, elements: Sequence[TestElement], shape: tuple[int, ...]) -> GridMap:
        def build():
            # the base-space action is orthogonal: its inverse is its transpose
            inv = np.stack(
                [np.asarray(self.gspace.basespace_action(e.value), np.float64).T for e in elements]
            )
            return GridMap.build(torch.as_tensor(inv, dtype=torch.float64), shape)

        key = (id(self.gspace), _element_key(elements), shape)
        hit = _GRIDS.get(key)
        if hit is None or hit[0] is not self.gspace:
            if len(_GRIDS) > 256:
                _GRIDS.clear()
            hit = (self.gspace, build(), list(elements))
            _GRIDS[key] = hit
        return hit[1]

    def check(self, x: torch.Tensor) -> None:
        if x.dim() != 2 + self.d or x.shape[1] != self.size:
            raise SymmetryError(
                f"input shape {tuple(x.shape)}: expected (batch, {self.size}, "
                f"{', '.join(['size'] * self.d)}) for the field type {self.describe()}"
            )

    def apply(self, elements, x):
        self.check(x)
        fiber = self.fiber(elements)
        if self.spatial and x.shape[2:] != (1,) * self.d:
            grid = self.grid(elements, tuple(x.shape[2:]))
            if grid.ops is not None and fiber.perm is not None:
                return self._fused(fiber, grid, x)
            moved = grid.apply(x)
        else:
            moved = x.unsqueeze(0).expand(len(elements), *x.shape)
        return fiber.apply(moved, 2)

    @staticmethod
    def _fused(fiber: FiberMap, grid: GridMap, x: torch.Tensor) -> torch.Tensor:
        """Channel permutation and grid symmetry per element: strided copies, no gathers."""
        perm = fiber.perm.to(x.device)
        signed = bool((fiber.sign < 0).any())
        outs = []
        for g, op in enumerate(grid.ops):
            y = x.index_select(1, perm[g])
            if signed:
                y = y * fiber.sign[g].to(device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
            outs.append(square_op(y, op))
        return torch.stack(outs)

    def exact(self, elements: Sequence[TestElement], shape: tuple[int, ...]) -> list[bool]:
        return self.grid(elements, shape).exact.tolist()

    def is_permutation(self) -> bool | None:
        return all(
            "pointwise" in r.supported_nonlinearities for r in self.field_type.representations
        )

    def rep_names(self) -> str:
        names: list[tuple[str, int]] = []
        for r in self.field_type.representations:
            label = rep_label(r)
            if names and names[-1][0] == label:
                names[-1] = (label, names[-1][1] + 1)
            else:
                names.append((label, 1))
        return " + ".join(f"{n} x {name}" if n > 1 else name for name, n in names)

    @property
    def is_trivial(self) -> bool:
        return False

    def describe(self) -> str:
        return f"[{self.rep_names()}] fields of {self.gspace.fibergroup.name} on the grid"


class PermutationAction(Action):
    """Permutations of one axis (set elements, graph nodes): ``y[..., i, ...] = x[..., p[i], ...]``.

    Elements are index tensors ``p`` (a permutation of ``range(n)``).
    """

    def __init__(self, dim: int = 1, name: str = "permutation"):
        self.dim = dim
        self.name = name
        self.reorders_rows = dim == 0

    def check(self, x: torch.Tensor) -> None:
        if x.dim() <= self.dim % max(x.dim(), 1):
            raise SymmetryError(f"input shape {tuple(x.shape)} has no axis {self.dim} to permute")

    def apply(self, elements, x):
        self.check(x)
        n = x.shape[self.dim]
        perms = torch.stack([_perm_of(e, n) for e in elements]).to(x.device)
        dim = self.dim % x.dim()
        moved = x.movedim(dim, 0)[perms]  # (G, n, ...)
        return moved.movedim(1, dim + 1)

    def is_permutation(self) -> bool:
        return True

    def describe(self) -> str:
        return f"{self.name} of axis {self.dim}"


def _perm_of(element: TestElement, n: int) -> torch.Tensor:
    p = torch.as_tensor(element.value, dtype=torch.long)
    if p.shape != (n,):
        raise SymmetryError(f"a permutation of {p.numel()} items cannot act on an axis of size {n}")
    return p


class CustomAction(Action):
    """A user-defined action ``act(g, x) -> x'``, applied element by element.

    The function receives the element's ``value`` (what the user's ``sample`` returned).
    """

    orthogonal = True  # checked numerically by the audit's self-checks

    def __init__(self, fn: Callable[[Any, torch.Tensor], torch.Tensor], name: str = "custom"):
        self.fn = fn
        self.name = name

    def apply(self, elements, x):
        outs = []
        for e in elements:
            y = self.fn(e.value, x)
            if not isinstance(y, torch.Tensor) or y.shape != x.shape:
                raise SymmetryError(
                    f"{self.name}: act(g, x) must return a tensor of the shape of x "
                    f"{tuple(x.shape)}, got {type(y).__name__} "
                    f"{tuple(y.shape) if isinstance(y, torch.Tensor) else ''}"
                )
            outs.append(y)
        return torch.stack(outs)

    def describe(self) -> str:
        return self.name


def _angle_label(angle: float) -> str:
    deg = math.degrees(angle) % 360
    return f"{deg:.4g}°"


def element_label(value: Any) -> str:
    """A readable label for an escnn group element (rotations in degrees, flips marked)."""
    group = getattr(value, "group", None)
    name = type(group).__name__ if group is not None else ""
    try:
        if name in ("CyclicGroup", "SO2"):
            return f"rot {_angle_label(value.to('radians'))}"
        if name in ("DihedralGroup", "O2"):
            flip, angle = value.to("radians")
            prefix = "flip·" if flip else ""
            return f"{prefix}rot {_angle_label(angle)}"
    except Exception:  # pragma: no cover - other escnn groups
        pass
    return str(value).replace("\n", " ")


@dataclass
class ElementSet:
    """The elements an audit tests, and how they were chosen."""

    elements: list[TestElement]
    exhaustive: bool
    note: str = ""
    subgroup_only: bool = False
    extra: dict = field(default_factory=dict)
