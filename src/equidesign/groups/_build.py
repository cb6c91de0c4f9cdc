"""Representation expressions as escnn objects (imports escnn on first use).

Every expression is checked first by :func:`~._repcheck.check_rep`, so a bad one fails with the
same message with or without escnn, and escnn is only asked for what exists.
"""

from __future__ import annotations

from typing import Any

from ._catalogue import GroupInfo
from ._repcheck import acting_group, check_rep
from ._reps import RepTerm, term_text

__all__ = ["build_rep", "build_rep_list"]


def _standard(group: GroupInfo, G: Any) -> Any:
    if group.kind == "cyclic":
        return G.irrep(1)
    if group.kind == "dihedral":
        if (group.n or 0) < 3:
            return G.irrep(1, 1) if group.n == 2 else G.irrep(1, 0)
        return G.irrep(1, 1)
    if group.kind == "so2":
        return G.irrep(1)
    if group.kind == "o2":
        return G.irrep(1, 1)
    if group.kind in ("ico", "octa"):
        return G.standard_representation  # a property on escnn's polyhedral groups
    return G.standard_representation()  # SO3, O3 (check_rep refused the others)


def _quotient(group: GroupInfo, G: Any, args: tuple) -> Any:
    letter, m = args
    if group.kind == "cyclic":
        return G.quotient_representation(m)
    return G.quotient_representation((None, m) if letter == "c" else (0, m))


def _e3nn_irrep(group: GroupInfo, G: Any, args: tuple) -> Any:
    l, parity = args
    if group.kind in ("so3", "se3"):
        return G.irrep(l)
    # escnn O(3) irrep (j, l): inversion acts as (-1)^j; e3nn parity 'e' is +1, 'o' is -1
    if parity == "y":
        parity = "e" if l % 2 == 0 else "o"
    return G.irrep(0 if parity == "e" else 1, l)


def _atom_rep(group: GroupInfo, G: Any, term: RepTerm) -> Any:
    if term.kind == "regular":
        return G.regular_representation
    if term.kind == "trivial":
        return G.trivial_representation
    if term.kind == "standard":
        return _standard(group, G)
    if term.kind == "quotient":
        return _quotient(group, G, term.args)
    if term.kind == "e3nn":
        return _e3nn_irrep(group, G, term.args)
    return G.irrep(*term.args)


def build_rep_list(group: GroupInfo, expr: str | list[RepTerm]) -> list[Any]:
    """The expression as a list of escnn representations, one per field (multiplicities expanded).

    This is what an escnn ``FieldType`` takes.

    Raises:
        RepresentationError: the group has no such representation (checked before escnn).
        GroupError: escnn has no such group.
    """
    terms = check_rep(group, expr)
    acting = acting_group(group)
    G = acting.escnn_group()
    reps = []
    for term in terms:
        reps.extend([_atom_rep(acting, G, term)] * term.count)
    return reps


def build_rep(group: GroupInfo, expr: str | list[RepTerm]) -> Any:
    """The expression as one escnn representation (the direct sum of its terms)."""
    from .._libs import escnn_group

    terms = check_rep(group, expr)
    reps = build_rep_list(group, terms)
    if len(reps) == 1:
        return reps[0]
    return escnn_group().directsum(reps, name=term_text(terms))
