"""``Symmetry.sets``: permutations of set elements (axis 1 of ``(B, N, C)``)."""

from __future__ import annotations

import itertools
import math

import torch

from ..errors import SymmetryError
from ..groups import parse_group
from .actions import ElementSet, PermutationAction, TestElement, TrivialAction

__all__ = ["set_symmetry", "permutation_elements", "default_set_action", "EXHAUSTIVE_MAX"]

EXHAUSTIVE_MAX = 5  # sets of at most this many elements are tested with all N! permutations


def _label(p: list[int]) -> str:
    return "(" + " ".join(map(str, p)) + ")"


def permutation_elements(n: int, seed: int, count: int) -> ElementSet:
    """All permutations of n <= 5 items, else the identity and ``count`` random ones."""
    if n <= EXHAUSTIVE_MAX:
        perms = [list(p) for p in itertools.permutations(range(n))]
        note, exhaustive = f"all {math.factorial(n)} permutations of {n} elements", True
    else:
        gen = torch.Generator().manual_seed(seed)
        perms = [list(range(n))] + [torch.randperm(n, generator=gen).tolist() for _ in range(count)]
        note, exhaustive = f"the identity and {count} random permutations of {n} elements", False
    elements = [TestElement(_label(p), torch.tensor(p), identity=p == sorted(p)) for p in perms]
    return ElementSet(elements, exhaustive=exhaustive, note=note)


def default_set_action(
    shape: tuple[int, ...], n: int | None, name: str = "permutation of set elements"
) -> PermutationAction | TrivialAction | None:
    """The action on an inner tensor of a set model that nothing declares, read off its shape.

    ``shape`` is one copy's (batch axis first), ``n`` the set size. The axis of size ``n`` is
    the element axis: ``(B, N, C)`` (and channels-first ``(B, C, N)``, as Conv1d layers take
    it) moves with the elements. A tensor with no axis of size ``n`` -- ``(B,)``, ``(B, C)``,
    ``(B, 1, C)`` -- holds values per set, which in a correct model are functions of the whole
    set, so invariant. Both are assumptions, checked by the layer tests like any other action:
    a readout that takes the first element reads ``(B, N, C)``, returns ``(B, C)``, and fails.

    Shapes that fit both readings are left unknown (their layers untested): ``(B, N)`` (a score
    per element, or N pooled channels) and two axes of size ``n`` (pairwise tensors, or as
    many channels as elements). A layer that makes an invariant tensor with an element axis
    (sorting the elements) must declare ``out_action = "invariant"``.
    """
    if n is None:
        return None
    element_axes = [d for d in range(1, len(shape)) if shape[d] == n]
    if not element_axes:
        return TrivialAction()
    if len(element_axes) > 1 or len(shape) == 2:
        return None
    return PermutationAction(dim=element_axes[0], name=name)


def set_symmetry(cls, out, *, size, channels, n_random):
    if out not in ("invariant", "equivariant"):
        raise SymmetryError(f"out: {out!r} must be 'invariant' or 'equivariant'")
    state: dict = {"n": size}

    def source(seed, count):
        if state["n"] is None:
            raise SymmetryError(
                "Symmetry.sets: the set size is unknown; pass inputs= to audit or size=N"
            )
        return permutation_elements(state["n"], seed, count)

    def make(batch, gen, dtype, device):
        if size is None or channels is None:
            raise SymmetryError(
                "Symmetry.sets: the input shape is unknown; pass inputs= to audit, or size=N and "
                "channels=C to Symmetry.sets"
            )
        return torch.randn(batch, size, channels, generator=gen, dtype=dtype).to(device)

    elements = PermutationAction(dim=1, name="permutation of set elements")
    by_dim: dict[int, PermutationAction] = {1: elements}  # one action per axis, shared
    trivial = TrivialAction()

    def default(shape: tuple[int, ...]):
        action = default_set_action(shape, state["n"])
        if isinstance(action, PermutationAction):
            return by_dim.setdefault(action.dim, action)
        return trivial if action is not None else None

    sym = cls(
        name="Sn",
        domain="set",
        in_action=elements,
        out_action=TrivialAction() if out == "invariant" else elements,
        group=parse_group("Sn"),
        n_random=n_random,
        _element_source=source,
        _input_maker=make,
        _compose=lambda p, q: q[p],  # act(p, act(q, x)) = x[:, q][:, p] = x[:, q[p]]
        _input_help="pass inputs= to audit, or size= and channels= to Symmetry.sets",
    )
    sym._observer = lambda x: state.update(n=int(x.shape[1]))
    sym.default_action = default
    return sym
