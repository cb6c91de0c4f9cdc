"""Checks of single values (names, free text, groups, representations) shared by spec models.

Each check returns the value (or its canonical form) or raises a :class:`SpecValueError` whose
message names the bad value and what is allowed. pydantic reports it as an error of type
``spec_value``; :mod:`._errors` turns it into a located :class:`~equidesign.errors.Problem`.
"""

from __future__ import annotations

import keyword
import reprlib
import unicodedata
from collections.abc import Iterable
from typing import Any

from pydantic_core import PydanticCustomError

from ..errors import EquidesignError
from ..groups import acting_group, check_rep, parse_group, parse_rep_expr

__all__ = [
    "NAME_MAX_LENGTH",
    "NAME_PATTERN",
    "SpecValueError",
    "canonical_group",
    "check_identifier",
    "check_printable",
    "check_representation",
    "join_words",
    "representation_problem",
    "short_repr",
]

NAME_MAX_LENGTH = 64
#: the JSON Schema pattern of a name, for editors: what :func:`check_identifier` accepts (an
#: ASCII identifier starting with a letter, not a keyword; the length is the schema's maxLength)
NAME_PATTERN = "^(?!(?:" + "|".join(sorted(keyword.kwlist)) + ")$)[A-Za-z][A-Za-z0-9_]*$"

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def short_repr(value: Any) -> str:
    """``repr(value)``, shortened so that a message stays one readable line.

    Bounded for any input, also for the deeply shared structures YAML aliases build.

    >>> short_repr("five")
    "'five'"
    >>> len(short_repr("a" * 1000)) <= 60
    True
    """
    return _REPR.repr(value)


def join_words(items: Iterable[str], last: str = "and") -> str:
    """``['a', 'b', 'c']`` -> ``'a, b and c'``.

    >>> join_words(["vector", "set"], "or")
    'vector or set'
    """
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def SpecValueError(message: str) -> PydanticCustomError:  # noqa: N802 - reads as an exception
    """The error a value check raises; ``message`` is shown as is (no template expansion)."""
    return PydanticCustomError("spec_value", "{message}", {"message": message})


_NAME_FIX = (
    "use a Python identifier of ASCII letters, digits and underscores that starts with a letter, "
    f"at most {NAME_MAX_LENGTH} characters, e.g. 'c4_classifier'"
)


def _name_defect(value: str) -> str | None:
    if not value:
        return "it is empty"
    if len(value) > NAME_MAX_LENGTH:
        return f"it has {len(value)} characters"
    if not value.isascii():
        return "it has non-ASCII characters"
    if not value.isidentifier():
        return "it is not a Python identifier"
    if keyword.iskeyword(value):
        return "it is a Python keyword"
    if value.startswith("_"):
        return "it starts with '_'"
    return None


def check_identifier(value: str) -> str:
    """Accept a name that can become a Python class and module name in generated code.

    >>> check_identifier("c4_classifier")
    'c4_classifier'
    """
    defect = _name_defect(value)
    if defect is not None:
        raise SpecValueError(f"{short_repr(value)} is not a valid name: {defect}; {_NAME_FIX}")
    return value


def check_printable(value: str) -> str:
    """Accept printable text and newlines; refuse control and invisible format characters.

    >>> check_printable("two\\nlines")
    'two\\nlines'
    """
    for i, ch in enumerate(value):
        if ch != "\n" and not ch.isprintable():
            name = unicodedata.name(ch, "a control character")
            raise SpecValueError(
                f"{short_repr(value)} contains U+{ord(ch):04X} ({name.lower()}) at position {i}; "
                "use printable text and newlines"
            )
    return value


def _library_message(exc: EquidesignError, value: str) -> str:
    """The groups module's message without its field prefix and without a repeated value."""
    text = str(exc)
    for prefix in ("group: ", "representation: "):
        text = text.removeprefix(prefix)
    doubled = f"{short_repr(value)}: {short_repr(value.strip())} "
    if text.startswith(doubled):
        text = f"{short_repr(value)} " + text[len(doubled) :]
    return text


def canonical_group(value: str) -> str:
    """The catalogue's canonical name of a group (``"so(2)"`` -> ``"SO2"``).

    >>> canonical_group("e3 x sn")
    'E3 x Sn'
    """
    try:
        return parse_group(value).name
    except EquidesignError as exc:
        raise SpecValueError(_library_message(exc, value)) from None


def check_representation(value: str) -> str:
    """Accept a representation expression such as ``'2 x regular + irrep(1)'`` (kept as written).

    >>> check_representation("3 x trivial")
    '3 x trivial'
    """
    try:
        parse_rep_expr(value)
    except EquidesignError as exc:
        raise SpecValueError(_library_message(exc, value)) from None
    return value


#: the domains whose family names features by e3nn irreps
_E3NN_DOMAINS = ("point_cloud",)
#: the domains whose elements a permutation group moves
_PERMUTED_DOMAINS = ("set", "graph", "point_cloud")


def representation_problem(group: str, domain: str, value: str) -> str | None:
    """What is wrong with ``value`` as a representation of ``group`` on ``domain``, or ``None``.

    The group must have every term (``irrep(9)`` of D4 does not exist; ``'0e'`` names an O(3)
    irrep, not one of D4), the whole must stay within the size limit, and point clouds take
    e3nn irreps.

    >>> representation_problem("D4", "vector", "2 x regular") is None
    True
    """
    try:
        info = parse_group(group)
        acting = acting_group(info)
        if acting.kind == "translations" or (
            acting.is_permutation and domain not in _PERMUTED_DOMAINS
        ):
            return None  # the designer refuses these groups here, with the reason
        terms = check_rep(info, value)
    except EquidesignError as exc:
        return _library_message(exc, value)
    if domain in _E3NN_DOMAINS:
        bad = [t.atom for t in terms if t.kind not in ("e3nn", "trivial")]
        if bad:
            return (
                f"{short_repr(value)}: {domain} features are e3nn irreps such as '4x0e + 1x1o' "
                f"(or trivial), not {bad[0]!r}"
            )
    return None
