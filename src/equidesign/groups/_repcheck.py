"""A representation expression checked against a group, without escnn.

:func:`check_rep` is what the spec runs on ``input.representation`` and
``output.representation`` (so ``equidesign explain`` refuses what ``design`` would), and what
:mod:`._build` runs before it asks escnn for anything. :func:`rep_dim` and
:func:`non_permutation_atoms` answer the designer's questions (a layer's width, whether a
pointwise nonlinearity is exact) from the same facts.
"""

from __future__ import annotations

from ..errors import RepresentationError
from ._catalogue import GroupInfo, quote
from ._irreps import MAX_DEGREE, NAMED_IRREPS, irrep_of, irreps_help
from ._reps import MAX_REP_DIM, RepTerm, parse_rep_expr, term_text

__all__ = ["acting_group", "atoms_help", "check_rep", "non_permutation_atoms", "rep_dim"]

_SO3_FAMILY = ("so3", "o3", "se3", "e3")
_ESCNN_PRODUCTS = ("full_octa", "full_ico")  # escnn builds Oh and Ih as direct products


def acting_group(group: GroupInfo) -> GroupInfo:
    """The group that acts on features: ``E3`` in ``E3 x Sn`` (the permutations move the atoms,
    not their features); the group itself otherwise."""
    if group.is_product:
        geometric = [f for f in group.factors if not f.is_permutation]
        if len(geometric) == 1:
            return geometric[0]
    return group


def _terms(expr: str | list[RepTerm]) -> tuple[list[RepTerm], str]:
    terms = parse_rep_expr(expr) if isinstance(expr, str) else list(expr)
    return terms, expr if isinstance(expr, str) else term_text(terms)


def _regular_dim(group: GroupInfo, whole: str) -> int:
    if group.order is None:
        raise RepresentationError(
            f"representation: {quote(whole)}: {group.name} is continuous and has no finite "
            "regular representation; use irreps (band-limited), e.g. 'irrep(0) + irrep(1) + "
            "irrep(2)'"
        )
    return group.order


def _standard_dim(group: GroupInfo) -> int:
    n = group.n or 0
    if group.kind == "cyclic":
        if n < 3:
            raise RepresentationError(
                f"representation: 'standard' of {group.name} is not a faithful 2D rotation; use "
                "irrep(k) or regular"
            )
        return 2
    if group.kind == "dihedral":
        return 2 if n >= 3 else 1
    if group.kind in ("so2", "o2"):
        return 2
    if group.kind in ("octa", "ico", "tetra", *_SO3_FAMILY):
        return 3
    raise RepresentationError(
        f"representation: 'standard' of {group.name} is not defined; use regular or trivial"
    )


def _quotient_dim(group: GroupInfo, args: tuple, whole: str) -> int:
    letter, m = args
    n = group.n or 0
    sub = f"{letter.upper()}{m}"
    if group.kind not in ("cyclic", "dihedral"):
        raise RepresentationError(
            f"representation: {quote(whole)}: quotient({sub}) needs C<n> or D<n>, not "
            f"{group.name}; use regular or trivial"
        )
    if group.kind == "cyclic" and letter == "d":
        raise RepresentationError(
            f"representation: {quote(whole)}: {group.name} has no dihedral subgroup; use "
            "quotient(C<m>)"
        )
    if m < 1 or n % m:
        divisors = ", ".join(str(d) for d in range(1, n + 1) if n % d == 0)
        kinds = "quotient(C<m>)" if group.kind == "cyclic" else "quotient(C<m>) or quotient(D<m>)"
        raise RepresentationError(
            f"representation: {quote(whole)}: {group.name} has no subgroup {sub} ({m} does not "
            f"divide {n}); use {kinds} with m in {divisors}"
        )
    # |G / H|: the cosets the quotient representation permutes
    return (2 * n if group.kind == "dihedral" else n) // (m if letter == "c" else 2 * m)


def atoms_help(group: GroupInfo) -> str:
    """What a representation of ``group`` may be made of, in words (for messages)."""
    group = acting_group(group)
    if group.is_permutation or group.kind == "translations":
        return "trivial"
    parts = ["regular"] if group.order is not None else []
    parts.append("trivial")
    try:
        _standard_dim(group)
        parts.append("standard")
    except RepresentationError:
        pass
    if group.kind in NAMED_IRREPS:
        parts.append(irreps_help(group))
    n = group.n or 0
    if group.kind == "cyclic":
        parts.append(f"quotient(C<m>) with m dividing {n}")
    elif group.kind == "dihedral":
        parts.append(f"quotient(C<m>) or quotient(D<m>) with m dividing {n}")
    if group.kind in _SO3_FAMILY:
        parts.append("e3nn irreps such as '2x0e + 1x1o'")
    return ", ".join(parts[:-1]) + f" or {parts[-1]}" if len(parts) > 1 else parts[0]


def _e3nn_dim(group: GroupInfo, args: tuple, whole: str) -> int:
    l, parity = args
    if group.kind not in _SO3_FAMILY:
        raise RepresentationError(
            f"representation: {quote(whole)}: '{l}{parity}' is an e3nn irrep of O(3), not a "
            f"representation of {group.name}; use {atoms_help(group)}"
        )
    if l > MAX_DEGREE:
        raise RepresentationError(
            f"representation: {quote(whole)}: '{l}{parity}' has degree {l}; use l <= {MAX_DEGREE}"
        )
    return 2 * l + 1


def _term_dim(group: GroupInfo, term: RepTerm, whole: str) -> int:
    if term.kind == "trivial":
        return 1
    if group.is_permutation:
        raise RepresentationError(
            f"representation: {quote(whole)}: {group.name} moves the elements themselves, not "
            "their features; use trivial"
        )
    if group.kind == "translations":
        raise RepresentationError(
            f"representation: {quote(whole)}: translations move positions, not features; use "
            "trivial"
        )
    if term.kind == "regular":
        return _regular_dim(group, whole)
    if term.kind == "standard":
        return _standard_dim(group)
    if term.kind == "quotient":
        return _quotient_dim(group, term.args, whole)
    if term.kind == "e3nn":
        return _e3nn_dim(group, term.args, whole)
    return irrep_of(group, term.args, whole).dim


def _dim(group: GroupInfo, terms: list[RepTerm], whole: str) -> int:
    acting = acting_group(group)
    return sum(t.count * _term_dim(acting, t, whole) for t in terms)


def rep_dim(group: GroupInfo, expr: str | list[RepTerm]) -> int:
    """The dimension of the representation (escnn's ``size``).

    >>> from ._catalogue import parse_group
    >>> rep_dim(parse_group("D4"), "2 x regular + irrep(1,1)")
    18
    """
    return _dim(group, *_terms(expr))


def check_rep(group: GroupInfo, expr: str | list[RepTerm]) -> list[RepTerm]:
    """The parsed terms, once each names a representation the group has and the whole has at
    most :data:`MAX_REP_DIM` dimensions.

    Raises:
        RepresentationError: naming the bad term and what the group has instead.
    """
    terms, whole = _terms(expr)
    dim = _dim(group, terms, whole)
    if dim > MAX_REP_DIM:
        raise RepresentationError(
            f"representation: {quote(whole)} has {dim:,} dimensions under {group.name}; a "
            f"representation has at most {MAX_REP_DIM:,}"
        )
    return terms


def _is_permutation(group: GroupInfo, term: RepTerm) -> bool:
    """Whether escnn lists 'pointwise' among the atom's nonlinearities: the regular and quotient
    representations permute coordinates, and so does the trivial irrep, except in escnn's
    direct products (Oh, Ih, C2 x D4), whose trivial irrep only lists norm and gated ones."""
    if term.kind in ("regular", "quotient"):
        return True
    if term.kind == "trivial":
        return not (group.is_product or group.kind in _ESCNN_PRODUCTS)
    if term.kind == "irrep":
        return all(a == 0 for a in term.args) and group.kind not in _ESCNN_PRODUCTS
    if term.kind == "e3nn":
        l, parity = term.args
        return l == 0 and parity in "ey"
    return False


def non_permutation_atoms(group: GroupInfo, expr: str | list[RepTerm]) -> list[str]:
    """The atoms of the expression on which a pointwise nonlinearity is not equivariant (no
    permutation representation), each once, in order."""
    terms, _ = _terms(expr)
    acting = acting_group(group)
    return list(dict.fromkeys(t.atom for t in terms if not _is_permutation(acting, t)))
