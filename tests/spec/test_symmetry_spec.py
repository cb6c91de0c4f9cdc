"""The symmetry file of `equidesign audit` loads with the same located problems."""

from __future__ import annotations

import pytest

from equidesign.errors import SpecError
from equidesign.groups import REP_NAMES_HELP
from equidesign.spec import SymmetrySpec, load_symmetry_spec


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_symmetry_spec(text)
    return str(info.value).splitlines()


def test_symmetry_file_loads_and_normalises_the_group():
    sym = load_symmetry_spec("domain: image2d\ngroup: c4\ninput: 3 x trivial\nsize: [29, 29]\n")
    assert isinstance(sym, SymmetrySpec)
    assert (sym.group, sym.input, sym.output, sym.size) == (
        "C4",
        "3 x trivial",
        "invariant",
        [29, 29],
    )


def test_symmetry_file_problems_are_located_lines():
    assert _problems("domain: vector\ngroup: D4\ninput: 2 x regullar\nsize: 8\nseeed: 1\n") == [
        f"<spec>:3:8: input: '2 x regullar': 'regullar' is not a representation; {REP_NAMES_HELP}",
        "<spec>:4:1: size: vectors have no size; remove it",
        "<spec>:5:1: seeed: unknown key 'seeed'; did you mean 'seed'?",
    ]


def test_empty_symmetry_file_names_its_required_keys():
    assert _problems("\n") == [
        "<spec>:1:1: the symmetry file is empty; write at least domain and group"
    ]
