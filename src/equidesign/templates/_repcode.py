"""Python source for groups and representations, from validated plan values only.

Nothing from the spec reaches generated code as raw text: groups come from the catalogue's kinds
and integers, representations from parsed :class:`~equidesign.groups.RepTerm` objects (fixed
atoms and integers), and every name is emitted as a ``repr()`` literal.
"""

from __future__ import annotations

from ..groups import GroupInfo, RepTerm, parse_rep_expr

__all__ = [
    "group_constructor",
    "gspace_constructor",
    "voxel_gspace_constructor",
    "rep_list_code",
    "rep_code",
]

_GROUP_FUNCS = {
    "cyclic": "cyclic_group",
    "dihedral": "dihedral_group",
    "octa": "octa_group",
    "ico": "ico_group",
    "full_octa": "full_octa_group",
    "full_ico": "full_ico_group",
}


def group_constructor(group: GroupInfo) -> tuple[str, str]:
    """``(function names to import from escnn.group, call expression)``; a product of finite
    groups is escnn's ``direct_product`` of its factors."""
    if group.is_product:
        funcs, call = {"direct_product"}, ""
        for factor in group.factors:
            names, part = group_constructor(factor)
            funcs |= set(names.split(", "))
            call = f"direct_product({call}, {part})" if call else part
        return ", ".join(sorted(funcs)), call
    func = _GROUP_FUNCS[group.kind]
    args = str(int(group.n)) if group.kind in ("cyclic", "dihedral") else ""
    return func, f"{func}({args})"


def gspace_constructor(group: GroupInfo) -> str:
    if group.kind == "cyclic":
        return f"gspaces.rot2dOnR2(N={int(group.n)})"
    if group.kind == "dihedral":
        return f"gspaces.flipRot2dOnR2(N={int(group.n)})"
    if group.kind == "so2":
        return "gspaces.rot2dOnR2(N=-1)"  # N=-1: all rotations
    if group.kind == "o2":
        return "gspaces.flipRot2dOnR2(N=-1)"
    raise ValueError(f"no planar gspace for {group.name}")


_VOXEL_GSPACES = {
    "so3": "gspaces.rot3dOnR3()",
    "o3": "gspaces.flipRot3dOnR3()",
    "octa": "gspaces.octaOnR3()",
    "ico": "gspaces.icoOnR3()",
    "full_octa": "gspaces.fullOctaOnR3()",
    "full_ico": "gspaces.fullIcoOnR3()",
}


def voxel_gspace_constructor(group: GroupInfo) -> str:
    """escnn's space of a 3D group acting on voxel grids (R^3)."""
    if group.kind not in _VOXEL_GSPACES:
        raise ValueError(f"no voxel gspace for {group.name}")
    return _VOXEL_GSPACES[group.kind]


def _standard(group: GroupInfo, G: str) -> str:
    if group.kind == "cyclic":
        return f"{G}.irrep(1)"
    if group.kind == "dihedral":
        n = int(group.n)
        return f"{G}.irrep(1, 1)" if n != 2 and n != 1 else f"{G}.irrep(1, {1 if n == 2 else 0})"
    if group.kind == "so2":
        return f"{G}.irrep(1)"
    if group.kind == "o2":
        return f"{G}.irrep(1, 1)"
    if group.kind in ("ico", "octa"):
        return f"{G}.standard_representation"
    return f"{G}.standard_representation()"


def _reflection_atom(term: RepTerm, G: str) -> str:
    """D1 on the plane: escnn's fibre group is the reflection group, a ``CyclicGroup(2)``.

    Its irreps are D1's with the rotation frequency dropped ((j, 0) -> (j,)); D1/C1 is its
    regular quotient (by the trivial subgroup), D1/D1 its trivial one.
    """
    if term.kind == "standard":
        return f"{G}.irrep(1)"
    if term.kind == "irrep":
        return f"{G}.irrep({int(term.args[0])})"
    letter, _ = term.args
    return f"{G}.quotient_representation({1 if letter == 'c' else 2})"


def _atom(group: GroupInfo, term: RepTerm, G: str, planar: bool = False) -> str:
    if (
        planar
        and group.kind == "dihedral"
        and int(group.n) == 1
        and term.kind
        not in (
            "regular",
            "trivial",
        )
    ):
        return _reflection_atom(term, G)
    if term.kind == "regular":
        return f"{G}.regular_representation"
    if term.kind == "trivial":
        return f"{G}.trivial_representation"
    if term.kind == "standard":
        return _standard(group, G)
    if term.kind == "irrep":
        return f"{G}.irrep({', '.join(str(int(a)) for a in term.args)})"
    if term.kind == "quotient":
        letter, m = term.args
        if group.kind == "cyclic":
            return f"{G}.quotient_representation({int(m)})"
        sub = f"(None, {int(m)})" if letter == "c" else f"(0, {int(m)})"
        return f"{G}.quotient_representation({sub})"
    raise ValueError(f"representation {term.atom!r} has no escnn constructor for {group.name}")


def rep_list_code(group: GroupInfo, expr: str, G: str = "G", planar: bool = False) -> str:
    """A list expression of escnn representations, one per field: ``[G.regular_representation] * 8``.

    ``planar``: ``G`` is the fibre group of the group's GSpace on R^2 (differs for D1 only).
    """
    parts = []
    for term in parse_rep_expr(expr):
        atom = _atom(group, term, G, planar)
        parts.append(f"[{atom}]" if term.count == 1 else f"[{atom}] * {int(term.count)}")
    return " + ".join(parts)


def rep_code(group: GroupInfo, expr: str, G: str = "G") -> str:
    """One escnn representation: an atom, or a named ``directsum`` of the terms."""
    terms = parse_rep_expr(expr)
    if len(terms) == 1 and terms[0].count == 1:
        return _atom(group, terms[0], G)
    name = " + ".join(str(t) for t in terms)
    return f"directsum({rep_list_code(group, expr, G)}, name={name!r})"
