"""The irreducible representations of the catalogue's groups, as escnn numbers them, in pure
Python.

A spec is validated without importing torch, so which ``irrep(...)`` a group has, how large a
representation is and whether it is a permutation representation are known here from the
groups' character tables; ``tests/spec/test_irreps.py`` checks every fact against escnn.

escnn's ids, which specs write as ``irrep(...)``:

* ``C<n>``: ``irrep(k)``, ``0 <= k <= n // 2``; 2-dimensional (complex type) unless ``k = 0``
  or ``2k = n``.
* ``D<n>``: ``irrep(j, k)``, flip ``j`` in {0, 1}, ``0 <= k <= n // 2``; ``irrep(0, k)`` exists
  only for ``k = 0`` and ``2k = n``; 1-dimensional there and for ``irrep(1, 0)``.
* octahedral: ``irrep(0)``, ``irrep(1)`` (the rotation of R^3), ``irrep(-1)``, ``irrep(2)``,
  ``irrep(3)``; icosahedral: ``irrep(0)`` to ``irrep(4)``.
* ``SO2``: ``irrep(k)``; ``O2``: ``irrep(0, 0)`` and ``irrep(1, k)``; ``SO3``: ``irrep(l)``;
  ``O3``: ``irrep(j, l)`` (inversion acts by ``(-1)^j``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RepresentationError
from ._catalogue import GroupInfo

__all__ = [
    "MAX_DEGREE",
    "MAX_FREQUENCY",
    "NAMED_IRREPS",
    "Irrep",
    "finite_irreps",
    "irrep_of",
    "irreps_help",
    "regular_irrep_count",
]

#: the largest frequency of an SO2/O2 irrep: steerable CNNs band-limit their fields far below
#: (escnn's defaults stop at 3; a 64-frequency field needs kernels of 129 pixels)
MAX_FREQUENCY = 64
#: the largest degree l of an SO3/O3 irrep (and of e3nn's '<l>e'/'<l>o'): equivariant networks
#: use l <= 8; a degree-16 irrep already has 33 dimensions
MAX_DEGREE = 16

#: escnn's irrep types: real (R), complex (C, a 2-dimensional real block) or quaternionic (H)
_TYPE_SIZE = {"R": 1, "C": 2, "H": 4}


@dataclass(frozen=True)
class Irrep:
    """An irreducible representation: its id as a spec writes it, its dimension and type."""

    args: tuple[int, ...]
    dim: int
    type: str = "R"

    @property
    def text(self) -> str:
        return f"irrep({','.join(map(str, self.args))})"

    @property
    def is_trivial(self) -> bool:
        return all(a == 0 for a in self.args)


def _cyclic(n: int) -> tuple[Irrep, ...]:
    return tuple(
        Irrep((k,), 1) if k == 0 or 2 * k == n else Irrep((k,), 2, "C") for k in range(n // 2 + 1)
    )


def _dihedral(n: int) -> tuple[Irrep, ...]:
    out = [Irrep((0, 0), 1), Irrep((1, 0), 1)]
    for k in range(1, n // 2 + 1):
        if 2 * k == n:
            out += [Irrep((0, k), 1), Irrep((1, k), 1)]
        else:
            out.append(Irrep((1, k), 2))
    return tuple(out)


_OCTAHEDRAL = (Irrep((0,), 1), Irrep((1,), 3), Irrep((-1,), 3), Irrep((2,), 2), Irrep((3,), 1))
_ICOSAHEDRAL = (Irrep((0,), 1), Irrep((1,), 3), Irrep((2,), 5), Irrep((3,), 3), Irrep((4,), 4))


def _product(left: tuple[Irrep, ...], right: tuple[Irrep, ...]) -> tuple[Irrep, ...]:
    """escnn's irreps of a direct product: tensor products of the factors' irreps; two complex
    factors give two complex irreps of half the dimension."""
    out = []
    for a in left:
        for b in right:
            if a.type == "R" or b.type == "R":
                kind = b.type if a.type == "R" else a.type
                out.append(Irrep((*a.args, *b.args), a.dim * b.dim, kind))
            elif a.type == "C" or b.type == "C":
                out += [Irrep((*a.args, *b.args, i), a.dim * b.dim // 2, "C") for i in (0, 1)]
            else:
                out.append(Irrep((*a.args, *b.args), a.dim * b.dim // 2, "H"))
    return tuple(out)


def finite_irreps(group: GroupInfo) -> tuple[Irrep, ...] | None:
    """The irreps of a finite group escnn builds (``None`` for other groups)."""
    if group.kind == "cyclic":
        return _cyclic(group.n or 1)
    if group.kind == "dihedral":
        return _dihedral(group.n or 1)
    if group.kind in ("octa", "ico", "full_octa", "full_ico"):
        base = _OCTAHEDRAL if "octa" in group.kind else _ICOSAHEDRAL
        # escnn's Oh and Ih are products C2 x O and C2 x I (inversion first)
        return base if group.kind in ("octa", "ico") else _product(_cyclic(2), base)
    if group.is_product and group.is_finite:
        factors = [finite_irreps(f) for f in group.factors]
        if any(f is None for f in factors):
            return None
        out = factors[0]
        for f in factors[1:]:
            out = _product(out, f)  # type: ignore[arg-type]
        return out
    return None


def regular_irrep_count(group: GroupInfo) -> int:
    """How many irreps the regular representation decomposes into (escnn's ``len(irreps)``):
    each irrep appears as often as its dimension, counted in blocks of its type."""
    irreps = finite_irreps(group)
    if irreps is None:
        raise RepresentationError(f"representation: {group.name} has no regular representation")
    return sum(ir.dim // _TYPE_SIZE[ir.type] for ir in irreps)


#: groups whose irreps a spec names with ``irrep(...)`` (products' ids are not written yet)
NAMED_IRREPS = ("cyclic", "dihedral", "octa", "ico", "so2", "o2", "so3", "o3", "se3", "e3")


def _listed(irreps: tuple[Irrep, ...], limit: int = 8) -> str:
    texts = [ir.text for ir in irreps]
    if len(texts) > limit:
        texts = [*texts[: limit - 2], "...", texts[-1]]
    return ", ".join(texts)


def irreps_help(group: GroupInfo) -> str:
    """Which ``irrep(...)`` the group has, in words (for messages)."""
    n = group.n or 0
    if group.kind == "cyclic":
        return f"irrep(k) with 0 <= k <= {n // 2} ({_listed(_cyclic(n))})"
    if group.kind == "dihedral":
        return f"irrep(j,k) with j = 0 or 1 and 0 <= k <= {n // 2} ({_listed(_dihedral(n))})"
    if group.kind in ("octa", "ico"):
        return _listed(finite_irreps(group))  # type: ignore[arg-type]
    if group.kind == "so2":
        return f"irrep(k) with 0 <= k <= {MAX_FREQUENCY}"
    if group.kind == "o2":
        return f"irrep(0,0) and irrep(1,k) with 0 <= k <= {MAX_FREQUENCY}"
    if group.kind in ("so3", "se3"):
        return f"irrep(l) with 0 <= l <= {MAX_DEGREE}"
    if group.kind in ("o3", "e3"):
        return f"irrep(j,l) with j = 0 or 1 and 0 <= l <= {MAX_DEGREE}"
    return "no irrep(...) named in specs"


def _continuous(group: GroupInfo, args: tuple[int, ...]) -> Irrep | None:
    kind = group.kind
    if kind == "so2" and len(args) == 1 and 0 <= args[0] <= MAX_FREQUENCY:
        return Irrep(args, 1 if args[0] == 0 else 2)
    if kind == "o2" and len(args) == 2 and args[0] in (0, 1) and 0 <= args[1] <= MAX_FREQUENCY:
        if args[0] == 0 and args[1] != 0:
            return None
        return Irrep(args, 1 if args[1] == 0 else 2)
    if kind in ("so3", "se3") and len(args) == 1 and 0 <= args[0] <= MAX_DEGREE:
        return Irrep(args, 2 * args[0] + 1)
    if kind in ("o3", "e3") and len(args) == 2 and args[0] in (0, 1):
        if 0 <= args[1] <= MAX_DEGREE:
            return Irrep(args, 2 * args[1] + 1)
    return None


def irrep_of(group: GroupInfo, args: tuple[int, ...], whole: str) -> Irrep:
    """The irrep ``irrep(*args)`` of ``group``.

    Raises:
        RepresentationError: naming the irreps the group has.
    """
    text = f"irrep({','.join(map(str, args))})"
    if group.kind not in NAMED_IRREPS:
        raise RepresentationError(
            f"representation: {whole!r}: the irreps of {group.name} are not named in specs; "
            "use regular or trivial"
        )
    if group.kind in ("cyclic", "dihedral", "octa", "ico"):
        found = next((ir for ir in finite_irreps(group) or () if ir.args == args), None)
    else:
        found = _continuous(group, args)
    if found is None:
        raise RepresentationError(
            f"representation: {whole!r}: {group.name} has no {text}; its irreps are "
            f"{irreps_help(group)}"
        )
    return found
