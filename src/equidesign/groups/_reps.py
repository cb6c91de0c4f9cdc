"""Representation expressions: the names escnn and e3nn users write, parsed and built.

Grammar (whitespace is free)::

    expr  := term ("+" term)*
    term  := [count ("x" | "×" | "*")] atom
    atom  := "regular" | "trivial" | "standard" | "irrep(" int ["," int] ")"
           | "quotient(" subgroup ")"            e.g. quotient(C2), quotient(D1)
           | e3nn irrep                           e.g. 0e, 1o, 2e (SO3/O3 family only)

``"4 x regular"``, ``"regular + 2 x irrep(1)"`` and ``"4x0e + 2x1o"`` are all expressions.
Parsing (:func:`parse_rep_expr`) is pure Python; :func:`build_rep` makes the escnn objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import RepresentationError
from ._catalogue import GroupInfo

__all__ = ["RepTerm", "parse_rep_expr", "build_rep", "build_rep_list", "REP_NAMES_HELP"]

REP_NAMES_HELP = (
    "use regular, trivial, standard, irrep(k), quotient(C<m>) or quotient(D<m>), "
    "with multiplicities and sums such as '4 x regular + 2 x irrep(1)', or an e3nn "
    "irreps string such as '4x0e + 2x1o' for SO3/O3"
)

_TERM = re.compile(r"^\s*(?:(\d+)\s*[x×*]\s*)?(.+?)\s*$")
_E3NN = re.compile(r"^(\d+)([eoy])$")
_CALL = re.compile(r"^(irrep|quotient)\s*\(\s*(.*?)\s*\)$")
_SO3_FAMILY = {"so3", "o3", "se3", "e3"}


@dataclass(frozen=True)
class RepTerm:
    """One ``count x atom`` term of a representation expression."""

    count: int
    atom: str  # canonical text: "regular", "irrep(1,0)", "quotient(C2)", "1o", ...
    kind: str  # regular | trivial | standard | irrep | quotient | e3nn
    args: tuple = ()

    def __str__(self) -> str:
        return self.atom if self.count == 1 else f"{self.count} x {self.atom}"


def _parse_atom(atom: str, whole: str) -> tuple[str, str, tuple]:
    low = atom.strip().lower()
    if low in ("regular", "trivial", "standard"):
        return low, low, ()
    match = _E3NN.match(low)
    if match:
        l, p = int(match.group(1)), match.group(2)
        return f"{l}{p}", "e3nn", (l, p)
    match = _CALL.match(low)
    if match:
        head, inner = match.groups()
        if head == "irrep":
            try:
                args = tuple(int(a) for a in inner.split(",") if a.strip() != "")
            except ValueError:
                args = ()
            if not args or len(args) > 2:
                raise RepresentationError(
                    f"representation: {whole!r}: irrep takes one or two integers, as in "
                    f"irrep(1) or irrep(1,1); {REP_NAMES_HELP}"
                )
            return f"irrep({','.join(map(str, args))})", "irrep", args
        sub = re.fullmatch(r"([cd])(\d+)", inner.replace(" ", ""))
        if not sub:
            raise RepresentationError(
                f"representation: {whole!r}: quotient takes a subgroup such as C2 or D1; "
                f"{REP_NAMES_HELP}"
            )
        letter, m = sub.group(1), int(sub.group(2))
        return f"quotient({letter.upper()}{m})", "quotient", (letter, m)
    raise RepresentationError(
        f"representation: {whole!r}: {atom.strip()!r} is not a representation; {REP_NAMES_HELP}"
    )


def parse_rep_expr(expr: str) -> list[RepTerm]:
    """Parse a representation expression into terms (no library import).

    >>> [str(t) for t in parse_rep_expr("4 x regular + irrep(1)")]
    ['4 x regular', 'irrep(1)']
    >>> [str(t) for t in parse_rep_expr("4x0e + 2x1o")]
    ['4 x 0e', '2 x 1o']
    """
    if not isinstance(expr, str) or not expr.strip():
        raise RepresentationError(f"representation: {expr!r} is empty; {REP_NAMES_HELP}")
    terms = []
    for part in expr.split("+"):
        match = _TERM.match(part)
        if not match or not match.group(2):
            raise RepresentationError(
                f"representation: {expr!r}: empty term between '+'; {REP_NAMES_HELP}"
            )
        count = int(match.group(1)) if match.group(1) else 1
        if count < 1:
            raise RepresentationError(
                f"representation: {expr!r}: multiplicity {count} must be at least 1"
            )
        atom, kind, args = _parse_atom(match.group(2), expr)
        terms.append(RepTerm(count=count, atom=atom, kind=kind, args=args))
    return terms


def _standard(group: GroupInfo, G: Any) -> Any:
    if group.kind == "cyclic":
        if (group.n or 0) < 3:
            raise RepresentationError(
                f"representation: 'standard' of {group.name} is not a faithful 2D rotation; use "
                "irrep(k) or regular"
            )
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
    if group.kind in ("so3", "o3", "se3", "e3"):
        return G.standard_representation()
    raise RepresentationError(
        f"representation: 'standard' of {group.name} is not defined; use regular or an irrep"
    )


def _quotient(group: GroupInfo, G: Any, args: tuple, whole: str) -> Any:
    letter, m = args
    n = group.n or 0
    if group.kind not in ("cyclic", "dihedral") or n % m:
        raise RepresentationError(
            f"representation: {whole!r}: quotient({letter.upper()}{m}) needs {group.name} to be "
            f"C<n> or D<n> with {m} dividing n"
        )
    if group.kind == "cyclic":
        if letter != "c":
            raise RepresentationError(
                f"representation: {whole!r}: {group.name} has no dihedral subgroup; use quotient(C<m>)"
            )
        return G.quotient_representation(m)
    subgroup_id = (None, m) if letter == "c" else (0, m)
    return G.quotient_representation(subgroup_id)


def _e3nn_irrep(group: GroupInfo, G: Any, args: tuple, whole: str) -> Any:
    l, parity = args
    if group.kind not in _SO3_FAMILY:
        raise RepresentationError(
            f"representation: {whole!r}: e3nn irreps such as '{l}{parity}' name O(3) irreps; "
            f"group {group.name} uses {REP_NAMES_HELP.split(', with')[0]}"
        )
    if group.kind in ("so3", "se3"):
        return G.irrep(l)
    # escnn O(3) irrep (j, l): inversion acts as (-1)^j; e3nn parity 'e' is +1, 'o' is -1
    if parity == "y":
        parity = "e" if l % 2 == 0 else "o"
    return G.irrep(0 if parity == "e" else 1, l)


def _atom_rep(group: GroupInfo, G: Any, term: RepTerm, whole: str) -> Any:
    if term.kind == "regular":
        if not group.is_finite:
            raise RepresentationError(
                f"representation: {whole!r}: {group.name} is continuous and has no finite regular "
                "representation; use irreps (band-limited), e.g. 'irrep(0) + irrep(1) + irrep(2)'"
            )
        return G.regular_representation
    if term.kind == "trivial":
        return G.trivial_representation
    if term.kind == "standard":
        return _standard(group, G)
    if term.kind == "quotient":
        return _quotient(group, G, term.args, whole)
    if term.kind == "e3nn":
        return _e3nn_irrep(group, G, term.args, whole)
    try:
        return G.irrep(*term.args)
    except Exception as exc:  # escnn raises assorted errors for unknown irrep ids
        ids = ", ".join(
            f"irrep({','.join(map(str, r.id)) if isinstance(r.id, tuple) else r.id})"
            for r in G.irreps()
        )
        raise RepresentationError(
            f"representation: {whole!r}: {group.name} has no {term.atom}; its irreps built so far "
            f"are {ids}"
        ) from exc


def build_rep_list(group: GroupInfo, expr: str | list[RepTerm]) -> list[Any]:
    """The expression as a list of escnn representations, one per field (multiplicities expanded).

    This is what an escnn ``FieldType`` takes.
    """
    G = group.escnn_group()
    terms = parse_rep_expr(expr) if isinstance(expr, str) else expr
    whole = expr if isinstance(expr, str) else " + ".join(map(str, terms))
    reps = []
    for term in terms:
        rep = _atom_rep(group, G, term, whole)
        reps.extend([rep] * term.count)
    return reps


def build_rep(group: GroupInfo, expr: str | list[RepTerm]) -> Any:
    """The expression as one escnn representation (the direct sum of its terms)."""
    from .._libs import escnn_group

    terms = parse_rep_expr(expr) if isinstance(expr, str) else expr
    reps = build_rep_list(group, terms)
    if len(reps) == 1:
        return reps[0]
    return escnn_group().directsum(reps, name=" + ".join(map(str, terms)))
