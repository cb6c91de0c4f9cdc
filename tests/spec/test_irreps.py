"""The pure-Python facts about irreps (used to validate specs without torch) are escnn's."""

from __future__ import annotations

import pytest

from equidesign.groups import (
    build_rep,
    finite_irreps,
    non_permutation_atoms,
    parse_group,
    regular_irrep_count,
    rep_dim,
)

# escnn computes the icosahedral irreps numerically (a minute on a fresh cache; the example
# specs pay it once per test run)
_ICO = pytest.mark.slow
FINITE = ["C1", "C2", "C3", "C4", "C5", "C8", "D1", "D2", "D3", "D4", "D6", "octahedral", "Oh"]
FINITE += [pytest.param("icosahedral", marks=_ICO), pytest.param("Ih", marks=_ICO)]
FINITE += ["C2 x D4", "C4 x C3", "C2 x C2", "C3 x octahedral"]


def _flat(ident) -> tuple:
    if isinstance(ident, tuple):
        return tuple(x for part in ident for x in _flat(part))
    return (ident,)


@pytest.mark.parametrize("name", FINITE)
def test_finite_irreps_are_escnns(name):
    group = parse_group(name)
    G = group.escnn_group()
    ours = sorted((ir.dim, ir.type, ir.args) for ir in finite_irreps(group))
    # escnn's direct products (Oh, Ih) end their ids with a copy index 0 for real irreps;
    # a product's ids are not written in specs: only dimensions and types are compared
    theirs = sorted(
        (r.size, r.type, _flat(r.id)[:-1] if group.kind.startswith("full") else _flat(r.id))
        for r in G.irreps()
    )
    if group.is_product:
        ours, theirs = [o[:2] for o in ours], [t[:2] for t in theirs]
    assert ours == theirs
    assert regular_irrep_count(group) == len(G.regular_representation.irreps)
    assert sum(ir.dim**2 // {"R": 1, "C": 2, "H": 4}[ir.type] for ir in finite_irreps(group)) == (
        group.order
    )


#: group -> expressions whose size and 'pointwise' support are compared with escnn's
EXPRESSIONS = {
    "C4": ["regular", "trivial", "irrep(0)", "irrep(1)", "irrep(2)", "standard", "quotient(C2)"],
    "C3": ["irrep(0) + 2 x irrep(1)", "quotient(C3)", "2 x regular + trivial"],
    "D4": ["regular", "irrep(0,0)", "irrep(1,0)", "irrep(0,2)", "standard", "quotient(D1)"],
    "D2": ["standard", "quotient(C2)", "quotient(D2)"],
    "D1": ["standard", "regular + irrep(1,0)"],
    "octahedral": ["regular", "standard", "irrep(-1)", "irrep(2)", "trivial + irrep(3)"],
    "icosahedral": ["standard + trivial", "irrep(4)", "irrep(2)"],
    "Oh": ["regular", "trivial"],
    "C2 x D4": ["regular", "trivial", "2 x regular + trivial"],
    "Ih": ["regular", "trivial"],
    "SO2": ["trivial", "irrep(0)", "irrep(3)", "standard"],
    "O2": ["irrep(0,0)", "irrep(1,0)", "irrep(1,2)", "standard"],
    "SO3": ["trivial", "irrep(2)", "standard", "0e + 1o", "2e"],
    "O3": ["irrep(0,0)", "irrep(1,1)", "4x0e + 2x1o", "1y", "0o", "standard"],
}


@pytest.mark.parametrize(
    ("name", "expr"),
    [
        pytest.param(g, e, marks=[_ICO] if g in ("icosahedral", "Ih") else [])
        for g, exprs in EXPRESSIONS.items()
        for e in exprs
    ],
)
def test_sizes_and_pointwise_support_are_escnns(name, expr):
    group = parse_group(name)
    rep = build_rep(group, expr)
    assert rep_dim(group, expr) == rep.size
    assert (not non_permutation_atoms(group, expr)) == ("pointwise" in rep.supported_nonlinearities)
