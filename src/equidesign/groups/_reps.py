"""Representation expressions: the names escnn and e3nn users write, parsed and built.

Grammar (whitespace is free)::

    expr  := term ("+" term)*
    term  := [count ("x" | "×" | "*")] atom
    atom  := "regular" | "trivial" | "standard" | "irrep(" int ["," int] ")"
           | "quotient(" subgroup ")"            e.g. quotient(C2), quotient(D1)
           | e3nn irrep                           e.g. 0e, 1o, 2e (SO3/O3 family only)

``"4 x regular"``, ``"regular + 2 x irrep(1)"`` and ``"4x0e + 2x1o"`` are all expressions.
Parsing (:func:`parse_rep_expr`) is pure Python; :mod:`._repcheck` checks an expression against
a group, also without escnn, and :mod:`._build` makes the escnn objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import RepresentationError
from ._catalogue import quote

__all__ = ["MAX_REP_DIM", "REP_NAMES_HELP", "RepTerm", "parse_rep_expr", "term_text"]

#: the largest representation a spec may name (the largest input.channels too): 512 copies of
#: D4's regular representation. escnn and symm-learning build dense matrices of this size.
MAX_REP_DIM = 4096

REP_NAMES_HELP = (
    "use regular, trivial, standard, irrep(k), quotient(C<m>) or quotient(D<m>), "
    "with multiplicities and sums such as '4 x regular + 2 x irrep(1)', or an e3nn "
    "irreps string such as '4x0e + 2x1o' for SO3/O3"
)

_TERM = re.compile(r"^\s*(?:([0-9]+)\s*[x×*]\s*)?(.+?)\s*$")
_E3NN = re.compile(r"^([0-9]{1,9})([eoy])$")
_INT = re.compile(r"^\s*(-?[0-9]{1,9})\s*$")
_CALL = re.compile(r"^(irrep|quotient)\s*\(\s*(.*?)\s*\)$")


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
            parts = [_INT.match(a) for a in inner.split(",")]
            args = tuple(int(m.group(1)) for m in parts if m) if all(parts) else ()
            if not args or len(args) > 2:
                raise RepresentationError(
                    f"representation: {quote(whole)}: irrep takes one or two integers, as in "
                    f"irrep(1) or irrep(1,1); {REP_NAMES_HELP}"
                )
            return f"irrep({','.join(map(str, args))})", "irrep", args
        sub = re.fullmatch(r"([cd])([0-9]{1,9})", inner.replace(" ", ""))
        if not sub:
            raise RepresentationError(
                f"representation: {quote(whole)}: quotient takes a subgroup such as C2 or D1; "
                f"{REP_NAMES_HELP}"
            )
        letter, m = sub.group(1), int(sub.group(2))
        return f"quotient({letter.upper()}{m})", "quotient", (letter, m)
    raise RepresentationError(
        f"representation: {quote(whole)}: {atom.strip()!r} is not a representation; {REP_NAMES_HELP}"
    )


def parse_rep_expr(expr: str) -> list[RepTerm]:
    """Parse a representation expression into terms (no library import).

    >>> [str(t) for t in parse_rep_expr("4 x regular + irrep(1)")]
    ['4 x regular', 'irrep(1)']
    >>> [str(t) for t in parse_rep_expr("4x0e + 2x1o")]
    ['4 x 0e', '2 x 1o']
    """
    if not isinstance(expr, str) or not expr.strip():
        raise RepresentationError(f"representation: {quote(expr)} is empty; {REP_NAMES_HELP}")
    parts = expr.split("+")
    if len(parts) > MAX_REP_DIM:
        raise RepresentationError(
            f"representation: {quote(expr)} has {len(parts):,} terms; a representation has at "
            f"most {MAX_REP_DIM:,} dimensions"
        )
    terms = []
    for part in parts:
        match = _TERM.match(part)
        if not match or not match.group(2):
            raise RepresentationError(
                f"representation: {quote(expr)}: empty term between '+'; {REP_NAMES_HELP}"
            )
        digits = (match.group(1) or "1").lstrip("0") or "0"
        if len(digits) > len(str(MAX_REP_DIM)) or int(digits) > MAX_REP_DIM:
            shown = f"{int(digits):,}" if len(digits) <= 9 else "over 10^9"
            raise RepresentationError(
                f"representation: {quote(expr)}: multiplicity {shown} is too large; a representation "
                f"has at most {MAX_REP_DIM:,} dimensions"
            )
        count = int(digits)
        if count < 1:
            raise RepresentationError(
                f"representation: {quote(expr)}: multiplicity {count} must be at least 1"
            )
        atom, kind, args = _parse_atom(match.group(2), expr)
        terms.append(RepTerm(count=count, atom=atom, kind=kind, args=args))
    return terms


def term_text(terms: list[RepTerm]) -> str:
    """The canonical text of parsed terms (``'4 x regular + irrep(1)'``)."""
    return " + ".join(map(str, terms))
