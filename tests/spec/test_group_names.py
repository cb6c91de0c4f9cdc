"""Group names: what the catalogue accepts, and the exact line for what it refuses."""

from __future__ import annotations

import pytest

from equidesign.groups import GROUP_NAMES_HELP, parse_group
from equidesign.spec import load_spec

from ._cases import BASE, problems_of

_SIGNED = (
    "is not a group: n in C<n>, D<n> and S<n> is a whole number n >= 1, without a sign; "
    + GROUP_NAMES_HELP
)


@pytest.mark.parametrize(
    ("written", "name"),
    [("c4", "C4"), ("C_4", "C4"), ("C04", "C4"), ("SO(2)", "SO2"), ("full-octahedral", "Oh")],
)
def test_spellings_of_a_group_name_the_same_group(written, name):
    assert load_spec(BASE.replace("group: C4", f"group: {written}")).group == name


@pytest.mark.parametrize("written", ["D-1", "C-4", "S-3", "c - 4"])
def test_a_signed_parameter_is_not_a_group(written):
    assert problems_of(BASE.replace("group: C4", f"group: {written}")) == [
        f"<spec>:2:8: group: {written!r} {_SIGNED}"
    ]


@pytest.mark.parametrize("written", ["C\u0664", "D\uff14"])  # Arabic-Indic and full-width 4
def test_only_ascii_digits_count(written):
    assert problems_of(BASE.replace("group: C4", f"group: {written}")) == [
        f"<spec>:2:8: group: {written!r} is not a group; {GROUP_NAMES_HELP}"
    ]


@pytest.mark.parametrize(
    ("written", "line"),
    [
        (
            "C100000",
            "'C100000' has 100,000 elements; equidesign takes finite groups of at most 256 "
            "elements (C<n> with n <= 256): escnn builds a larger group's regular "
            "representation in minutes",
        ),
        (
            "D129",
            "'D129' has 258 elements; equidesign takes finite groups of at most 256 elements "
            "(D<n> with n <= 128): escnn builds a larger group's regular representation in "
            "minutes",
        ),
        (
            "C" + "9" * 5000,
            "'C99999999999999999999999999...9999999999999999999999999999' has more than 10^9 "
            "elements; equidesign takes finite groups of at most 256 elements (C<n> with "
            "n <= 256): escnn builds a larger group's regular representation in minutes",
        ),
        (
            "C16 x D16",
            "'C16 x D16' has 512 elements; equidesign takes finite groups of at most 256 "
            "elements: escnn builds a larger group's regular representation in minutes",
        ),
        (
            "S5000",
            "'S5000' permutes 5,000 elements; use S<n> with n <= 4,096, or Sn for any number",
        ),
    ],
)
def test_groups_too_large_to_build_in_seconds_are_refused_with_the_limit(written, line):
    assert problems_of(BASE.replace("group: C4", f"group: {written}")) == [
        f"<spec>:2:8: group: {line}"
    ]


@pytest.mark.parametrize(("written", "order"), [("C256", 256), ("D128", 256), ("C2 x D4", 16)])
def test_the_largest_groups_allowed_parse(written, order):
    assert parse_group(written).order == order


def test_permutation_groups_are_bounded_by_their_size_not_their_order():
    assert parse_group("S4096").n == 4096


def test_finite_factors_may_repeat_but_continuous_ones_may_not():
    assert parse_group("C2 x C2").order == 4
    assert problems_of(BASE.replace("group: C4", "group: E3 x E3")) == [
        "<spec>:2:8: group: 'E3 x E3' repeats a factor; write each factor once"
    ]
