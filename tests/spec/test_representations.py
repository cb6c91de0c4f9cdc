"""Representations are checked against their group when the spec loads: exact lines."""

from __future__ import annotations

import pytest

from equidesign.spec import load_spec

from ._cases import problems_of

VECTOR = """\
name: demo
group: D4
domain: vector
task: regression
input:
  representation: {rep}
output:
  type: invariant
"""

_D4_IRREPS = (
    "irrep(j,k) with j = 0 or 1 and 0 <= k <= 2 (irrep(0,0), irrep(1,0), irrep(1,1), "
    "irrep(0,2), irrep(1,2))"
)
_D4_ATOMS = (
    f"regular, trivial, standard, {_D4_IRREPS} or quotient(C<m>) or quotient(D<m>) with m "
    "dividing 4"
)


@pytest.mark.parametrize(
    ("rep", "message"),
    [
        (
            '"4x0e + 2x1o"',
            f"'4x0e + 2x1o': '0e' is an e3nn irrep of O(3), not a representation of D4; use "
            f"{_D4_ATOMS}",
        ),
        ("irrep(9)", f"'irrep(9)': D4 has no irrep(9); its irreps are {_D4_IRREPS}"),
        ("irrep(-1)", f"'irrep(-1)': D4 has no irrep(-1); its irreps are {_D4_IRREPS}"),
        ("irrep(1)", f"'irrep(1)': D4 has no irrep(1); its irreps are {_D4_IRREPS}"),
        (
            "quotient(C3)",
            "'quotient(C3)': D4 has no subgroup C3 (3 does not divide 4); use quotient(C<m>) or "
            "quotient(D<m>) with m in 1, 2, 4",
        ),
        (
            "1000000 x regular",
            "'1000000 x regular': multiplicity 1,000,000 is too large; a representation has at "
            "most 4,096 dimensions",
        ),
        (
            "1000 x regular",
            "'1000 x regular' has 8,000 dimensions under D4; a representation has at most 4,096",
        ),
    ],
)
def test_a_representation_the_group_lacks_is_located_at_its_value(rep, message):
    assert problems_of(VECTOR.format(rep=rep)) == [f"<spec>:6:19: input.representation: {message}"]


def test_an_equivariant_output_is_checked_against_the_group_too():
    text = VECTOR.replace("D4", "C3").replace("2 x regular", "regular").format(rep="regular")
    text = text.replace("type: invariant", "type: equivariant\n  representation: irrep(5)")
    assert problems_of(text) == [
        "<spec>:9:19: output.representation: 'irrep(5)': C3 has no irrep(5); its irreps are "
        "irrep(k) with 0 <= k <= 1 (irrep(0), irrep(1))"
    ]


def test_a_group_error_hides_the_representation_check():
    # the group itself is bad: no guess about its representations
    assert problems_of(VECTOR.replace("D4", "D-4").format(rep="irrep(9)")) == [
        "<spec>:2:8: group: 'D-4' is not a group: n in C<n>, D<n> and S<n> is a whole number "
        "n >= 1, without a sign; use C<n> with n >= 1, D<n>, SO2, O2, SO3, O3, SE3, E3, Sn, "
        "tetrahedral, octahedral, icosahedral, Oh, Ih, translations, or a product such as "
        "'E3 x Sn'"
    ]


def test_point_clouds_take_e3nn_irreps():
    text = """\
name: shapes
group: SE3
domain: point_cloud
task: {kind: classification, classes: 3}
input: {representation: "2 x irrep(1)"}
output: {type: invariant}
"""
    assert problems_of(text) == [
        "<spec>:5:25: input.representation: '2 x irrep(1)': point_cloud features are e3nn "
        "irreps such as '4x0e + 1x1o' (or trivial), not 'irrep(1)'"
    ]


def test_permutations_move_elements_not_features():
    text = """\
name: bag
group: Sn
domain: set
task: regression
input: {channels: 3, representation: regular}
output: {type: invariant}
"""
    assert problems_of(text) == [
        "<spec>:5:38: input.representation: 'regular': Sn moves the elements themselves, not "
        "their features; use trivial"
    ]


@pytest.mark.parametrize(
    ("group", "rep"),
    [
        ("C3", "irrep(0) + 2 x irrep(1)"),
        ("octahedral", "irrep(-1) + standard"),
        ("D4", "512 x regular"),
        ("SO2", "irrep(64)"),
        ("O3", "2x0e + 1x1o + 1x16e"),
        ("D8", "quotient(D2) + quotient(C4)"),
    ],
)
def test_representations_the_group_has_load(group, rep):
    assert load_spec(VECTOR.replace("D4", group).format(rep=f'"{rep}"')).input.representation == rep


def test_groups_the_designer_refuses_on_a_domain_leave_their_representation_to_it():
    # the designer says why translations and S3 do not act on vectors; no guess here
    for group in ("translations", "S3"):
        assert load_spec(VECTOR.replace("D4", group).format(rep="regular")).group == group
