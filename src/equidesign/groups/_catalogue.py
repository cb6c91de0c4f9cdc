"""The group catalogue: names users write -> a description of the group and its library objects.

Names follow what escnn and e3nn users write: ``C4``, ``D8``, ``SO2``/``SO(2)``, ``O2``, ``SO3``,
``O3``, ``SE3``, ``E3``, ``Sn`` (or ``S5`` for a fixed size), the finite subgroups of SO(3)
(``tetrahedral``, ``octahedral``, ``icosahedral``, and the full ``Oh``/``Ih`` with inversion),
``translations`` (``T2``/``T3``) and products such as ``E3 x Sn``.

Parsing is pure Python; the escnn objects are only built when asked for
(:meth:`GroupInfo.escnn_group`), so the spec can be validated without importing torch.
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import GroupError

__all__ = [
    "GROUP_NAMES_HELP",
    "MAX_GROUP_ORDER",
    "MAX_PERMUTED",
    "GroupInfo",
    "group_name_pattern",
    "parse_group",
    "quote",
]

GROUP_NAMES_HELP = (
    "use C<n> with n >= 1, D<n>, SO2, O2, SO3, O3, SE3, E3, Sn, tetrahedral, octahedral, "
    "icosahedral, Oh, Ih, translations, or a product such as 'E3 x Sn'"
)


@dataclass(frozen=True)
class GroupInfo:
    """A group from the catalogue.

    Attributes:
        name: canonical name (``"C4"``, ``"D4"``, ``"SO2"``, ``"E3 x Sn"``, ...).
        kind: one of ``cyclic, dihedral, so2, o2, so3, o3, se3, e3, tetra, octa, ico, full_octa,
            full_ico, sn, translations, product``.
        n: the ``n`` of ``C<n>``, ``D<n>`` or a fixed-size ``S<n>``; ``None`` otherwise.
        factors: the factors of a product group, in the order written.
    """

    name: str
    kind: str
    n: int | None = None
    factors: tuple[GroupInfo, ...] = field(default=())

    # --- classification -------------------------------------------------------------------
    @property
    def is_product(self) -> bool:
        return self.kind == "product"

    @property
    def is_finite(self) -> bool:
        """True for groups with finitely many elements (tests can be exhaustive)."""
        if self.is_product:
            return all(f.is_finite for f in self.factors)
        if self.kind == "sn":
            return self.n is not None
        return self.kind in _FINITE_KINDS

    @property
    def is_continuous(self) -> bool:
        if self.is_product:
            return any(f.is_continuous for f in self.factors)
        return self.kind in _CONTINUOUS_KINDS

    @property
    def is_permutation(self) -> bool:
        return self.kind == "sn"

    @property
    def order(self) -> int | None:
        """Number of elements of a finite group, ``None`` for an infinite one."""
        if not self.is_finite:
            return None
        if self.is_product:
            total = 1
            for f in self.factors:
                total *= f.order  # type: ignore[operator]
            return total
        if self.kind == "sn":
            import math

            return math.factorial(self.n)  # type: ignore[arg-type]
        return (
            _FIXED_ORDERS.get(self.kind)
            or {
                "cyclic": self.n,
                "dihedral": 2 * (self.n or 0),
            }[self.kind]
        )

    @property
    def space_dim(self) -> int | None:
        """Dimension of the space the group acts on geometrically (2 or 3), if any."""
        if self.is_product:
            dims = {f.space_dim for f in self.factors} - {None}
            return dims.pop() if len(dims) == 1 else None
        return _SPACE_DIM.get(self.kind)

    @property
    def has_reflections(self) -> bool:
        return self.kind in {"dihedral", "o2", "o3", "e3", "full_octa", "full_ico"}

    @property
    def is_escnn_product(self) -> bool:
        """A product of finite groups that escnn builds (``C2 x D4``): its direct product."""
        return self.is_product and all(f.kind in _ESCNN_FINITE for f in self.factors)

    def factor(self, kind: str) -> GroupInfo | None:
        """The factor of the given kind (or the group itself when it is of that kind)."""
        if self.kind == kind:
            return self
        return next((f for f in self.factors if f.kind == kind), None)

    # --- library objects -----------------------------------------------------------------
    def escnn_group(self) -> Any:
        """The escnn group (``escnn.group.Group``); raises for groups escnn does not have."""
        from .._libs import escnn_group

        g = escnn_group()
        builders = {
            "cyclic": lambda: g.cyclic_group(self.n),
            "dihedral": lambda: g.dihedral_group(self.n),
            "so2": g.so2_group,
            "o2": g.o2_group,
            "so3": g.so3_group,
            "o3": g.o3_group,
            "se3": g.so3_group,
            "e3": g.o3_group,
            "octa": g.octa_group,
            "ico": g.ico_group,
            "full_octa": g.full_octa_group,
            "full_ico": g.full_ico_group,
        }
        if self.is_escnn_product:
            # escnn's direct products (the factors' irreps tensored); cached per factor pair
            product = self.factors[0].escnn_group()
            for f in self.factors[1:]:
                product = g.direct_product(product, f.escnn_group())
            return product
        if self.kind not in builders:
            hint = {
                "tetra": "escnn does not implement the tetrahedral group; use 'octahedral', "
                "which contains it",
                "sn": "permutation groups act on sets and graphs, not through escnn",
                "translations": "translations are not an escnn fibre group",
                "product": "products are handled factor by factor",
            }.get(self.kind, "")
            raise GroupError(f"group: {self.name!r} has no escnn group; {hint}")
        return builders[self.kind]()

    def gspace(self, dim: int | None = None) -> Any:
        """The escnn GSpace of the group acting on R^2 or R^3 (``dim`` defaults to the group's)."""
        from .._libs import escnn_gspaces

        gs = escnn_gspaces()
        dim = dim or self.space_dim
        table2 = {
            "cyclic": lambda: gs.rot2dOnR2(N=self.n),
            "dihedral": lambda: gs.flipRot2dOnR2(N=self.n),
            "so2": lambda: gs.rot2dOnR2(N=-1),
            "o2": lambda: gs.flipRot2dOnR2(N=-1),
        }
        table3 = {
            "so3": lambda: gs.rot3dOnR3(),
            "se3": lambda: gs.rot3dOnR3(),
            "o3": lambda: gs.flipRot3dOnR3(),
            "e3": lambda: gs.flipRot3dOnR3(),
            "octa": lambda: gs.octaOnR3(),
            "ico": lambda: gs.icoOnR3(),
            "full_octa": lambda: gs.fullOctaOnR3(),
            "full_ico": lambda: gs.fullIcoOnR3(),
        }
        table = table2 if dim == 2 else table3
        if self.kind not in table:
            raise GroupError(
                f"group: {self.name!r} does not act on R^{dim} as an escnn GSpace; "
                f"use {'C<n>, D<n>, SO2 or O2' if dim == 2 else 'SO3, O3, octahedral or icosahedral'}"
            )
        return table[self.kind]()

    def __str__(self) -> str:
        return self.name


_FINITE_KINDS = {"cyclic", "dihedral", "tetra", "octa", "ico", "full_octa", "full_ico"}
#: the finite groups escnn builds (not the tetrahedral group, not S<n>)
_ESCNN_FINITE = _FINITE_KINDS - {"tetra"}
_CONTINUOUS_KINDS = {"so2", "o2", "so3", "o3", "se3", "e3", "translations"}
_FIXED_ORDERS = {"tetra": 12, "octa": 24, "ico": 60, "full_octa": 48, "full_ico": 120}
_SPACE_DIM = {
    "cyclic": 2,
    "dihedral": 2,
    "so2": 2,
    "o2": 2,
    "so3": 3,
    "o3": 3,
    "se3": 3,
    "e3": 3,
    "tetra": 3,
    "octa": 3,
    "ico": 3,
    "full_octa": 3,
    "full_ico": 3,
}

# canonical name -> kind, for the names without a parameter (keys are normalised: lower case,
# no spaces, parentheses or underscores)
_FIXED = {
    "so2": ("SO2", "so2"),
    "o2": ("O2", "o2"),
    "so3": ("SO3", "so3"),
    "o3": ("O3", "o3"),
    "se3": ("SE3", "se3"),
    "e3": ("E3", "e3"),
    "tetrahedral": ("tetrahedral", "tetra"),
    "tetra": ("tetrahedral", "tetra"),
    "octahedral": ("octahedral", "octa"),
    "octa": ("octahedral", "octa"),
    "icosahedral": ("icosahedral", "ico"),
    "ico": ("icosahedral", "ico"),
    "oh": ("Oh", "full_octa"),
    "fulloctahedral": ("Oh", "full_octa"),
    "ih": ("Ih", "full_ico"),
    "fullicosahedral": ("Ih", "full_ico"),
    "sn": ("Sn", "sn"),
    "translations": ("translations", "translations"),
    "t2": ("translations", "translations"),
    "t3": ("translations", "translations"),
}
# ASCII digits only: ``\d`` would also take other scripts' digits ('C\u0664' is not C4)
_PARAM = re.compile(r"^(c|d|s)([0-9]+)$")
_PRODUCT_SPLIT = re.compile(r"\s+[x×]\s+|\s*×\s*")
_KINDS = {"c": "cyclic", "d": "dihedral", "s": "sn"}

#: escnn builds the regular representation of a finite group as dense |G| x |G| matrices and
#: its irreps by numerical decomposition: 2.5 s at 256 elements (C256, D128), a minute at 1024.
#: Real models use C4 to C64 and D4 to D32.
MAX_GROUP_ORDER = 256
#: the size of the largest permutation group ``S<n>``: the largest set or graph an example has
MAX_PERMUTED = 4096


def _normalise(name: str) -> str:
    """The key of a fixed name: lower case without spaces, parentheses, '_' or '-'."""
    return re.sub(r"[\s()_\-]", "", name).lower()


def _order_of(kind: str, n: int) -> int:
    return 2 * n if kind == "dihedral" else n


_QUOTE = reprlib.Repr()
_QUOTE.maxstring = 60


def quote(text: str) -> str:
    """``repr(text)``, shortened so that a message stays one readable line."""
    return _QUOTE.repr(text)


def _bounded(kind: str, letter: str, digits: str, whole: str) -> int:
    """``n``, refused beyond what escnn builds in seconds (or any example would use)."""
    # more digits than any bound: do not build the integer (int() refuses 4300+ digits)
    n = int(digits) if len(digits) <= 9 else None
    shown = f"{n:,}" if n is not None else "more than 10^9"
    if kind == "sn":
        if n is None or n > MAX_PERMUTED:
            raise GroupError(
                f"group: {quote(whole)} permutes {shown} elements; use S<n> with "
                f"n <= {MAX_PERMUTED:,}, or Sn for any number"
            )
        return n
    if n is None or _order_of(kind, n) > MAX_GROUP_ORDER:
        order = f"{_order_of(kind, n):,}" if n is not None else shown
        largest = MAX_GROUP_ORDER if kind == "cyclic" else MAX_GROUP_ORDER // 2
        raise GroupError(
            f"group: {quote(whole)} has {order} elements; equidesign takes finite groups of at "
            f"most {MAX_GROUP_ORDER} elements ({letter.upper()}<n> with n <= {largest}): escnn "
            "builds a larger group's regular representation in minutes"
        )
    return n


def _parameter(key: str, whole: str) -> GroupInfo | None:
    """``C<n>``, ``D<n>`` or ``S<n>`` from a key that kept its signs (``'d-1'`` is no group)."""
    match = _PARAM.match(key)
    if not match:
        return None
    letter, digits = match.groups()
    if not digits.strip("0"):
        raise GroupError(f"group: {quote(whole)} is not a group; {GROUP_NAMES_HELP}")
    kind = _KINDS[letter]
    n = _bounded(kind, letter, digits.lstrip("0"), whole)
    return GroupInfo(name=f"{letter.upper()}{n}", kind=kind, n=n)


def _parse_single(text: str, whole: str) -> GroupInfo:
    key = _normalise(text)
    if key in _FIXED:
        name, kind = _FIXED[key]
        return GroupInfo(name=name, kind=kind)
    signed = re.sub(r"[\s()_]", "", text).lower()  # keeps '-': 'D-1' must not read as D1
    found = _parameter(signed, whole)
    if found is not None:
        return found
    if re.match(r"^[cds]-[0-9]+$", signed):
        raise GroupError(
            f"group: {quote(whole)} is not a group: n in C<n>, D<n> and S<n> is a whole number "
            f"n >= 1, without a sign; {GROUP_NAMES_HELP}"
        )
    raise GroupError(f"group: {quote(whole)} is not a group; {GROUP_NAMES_HELP}")


def parse_group(name: str | GroupInfo) -> GroupInfo:
    """Parse a group name from the catalogue.

    Args:
        name: ``"C4"``, ``"D8"``, ``"SO(2)"``, ``"E3 x Sn"``, ... (or a :class:`GroupInfo`).

    Returns:
        The :class:`GroupInfo`.

    Raises:
        GroupError: with a one-line message listing the allowed names.

    >>> parse_group("d4").order
    8
    >>> parse_group("E3 x Sn").name
    'E3 x Sn'
    """
    if isinstance(name, GroupInfo):
        return name
    if not isinstance(name, str) or not name.strip():
        raise GroupError(f"group: {quote(name)} is not a group; {GROUP_NAMES_HELP}")
    parts = [p for p in _PRODUCT_SPLIT.split(name.strip()) if p]
    if len(parts) == 1:
        return _parse_single(parts[0], name)
    factors = tuple(_parse_single(p, name) for p in parts)
    # a finite factor may repeat (C2 x C2 is Klein's four-group); E3 x E3 means nothing here
    kinds = [f.kind for f in factors if f.kind not in _ESCNN_FINITE]
    if len(set(kinds)) != len(kinds):
        raise GroupError(f"group: {quote(name)} repeats a factor; write each factor once")
    group = GroupInfo(name=" x ".join(f.name for f in factors), kind="product", factors=factors)
    if group.is_finite and not any(f.is_permutation for f in factors):
        if group.order > MAX_GROUP_ORDER:  # type: ignore[operator]
            raise GroupError(
                f"group: {quote(name)} has {group.order:,} elements; equidesign takes finite groups "
                f"of at most {MAX_GROUP_ORDER} elements: escnn builds a larger group's regular "
                "representation in minutes"
            )
    return group


# --- the JSON Schema pattern of group names --------------------------------------------------
def _digits_upto(limit: int) -> str:
    """A regex of the whole numbers 1..limit without leading zeros (ECMA and Python syntax)."""
    top = str(limit)
    out = [f"[1-9][0-9]{{0,{len(top) - 2}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            high = int(digit) - 1
            span = str(low) if high == low else f"[{low}-{high}]"
            out.append(top[:i] + span + "[0-9]" * (len(top) - i - 1))
    out.append(top)
    return "(?:" + "|".join(out) + ")"


def _letters(key: str, sep: str) -> str:
    """``'so2'`` -> ``'[Ss]<sep>[Oo]<sep>2'``: any case, separators between the characters."""
    return sep.join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in key)


def group_name_pattern() -> str:
    """A JSON Schema ``pattern`` for the names :func:`parse_group` takes, for editors.

    It follows the parser (any case; spaces, parentheses, ``_`` and ``-`` inside fixed names;
    ``C<n>``/``D<n>``/``S<n>`` within their bounds; products joined by `` x ``), except that it
    cannot see repeated factors or the order of a product.
    """
    sep, param_sep = r"[\s()_\-]*", r"[\s()_]*"
    fixed = [_letters(key, sep) for key in sorted(_FIXED, key=lambda k: (-len(k), k))]
    bounds = {"c": MAX_GROUP_ORDER, "d": MAX_GROUP_ORDER // 2, "s": MAX_PERMUTED}
    params = [f"[{c.upper()}{c}]{param_sep}0*{_digits_upto(limit)}" for c, limit in bounds.items()]
    single = f"{sep}(?:{'|'.join(fixed + params)}){sep}"
    joint = r"(?:\s+[x×]\s+|\s*×\s*)"
    return f"^\\s*{single}(?:{joint}{single})*\\s*$"
