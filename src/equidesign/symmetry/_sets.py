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
    shape: tuple[int, ...], n: int | None, elements: PermutationAction
) -> PermutationAction | TrivialAction | None:
    """The action on an inner tensor of a set model that nothing declares, by its shape.

    ``shape`` is one copy's (batch axis first), ``n`` the set size. A tensor ``(B, N, ...)``
    holds one row per element and moves with them; ``(B, C)`` and ``(B,)`` hold one value per
    set, which in a correct model is a function of the whole set and so invariant. Both are
    assumptions, checked by the layer tests like any other action: a readout that takes the
    first element reads ``(B, N, C)`` and returns ``(B, C)``, and fails. Shapes that could be
    either are left unknown (their layers untested): ``(B, N)`` (N scores per element, or N
    pooled channels) and ``(B, N, N, ...)`` (pairwise tensors, permuted on two axes). A layer
    that makes an invariant tensor of set shape (sorting the elements) must declare
    ``out_action = "invariant"``.
    """
    if n is None or len(shape) < 1:
        return None
    if len(shape) >= 3 and shape[1] == n:
        return elements if shape[2] != n else None
    if len(shape) == 1 or (len(shape) == 2 and shape[1] != n):
        return TrivialAction()
    return None


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

    def default(shape: tuple[int, ...]):
        return default_set_action(shape, state["n"], elements)

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
