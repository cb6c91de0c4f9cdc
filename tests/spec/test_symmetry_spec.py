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
        "<spec>:4:1: size: vector inputs have no size here (the factory returns the inputs); "
        "remove it",
        "<spec>:5:1: seeed: unknown key 'seeed'; did you mean 'seed'?",
    ]


def test_empty_symmetry_file_names_its_required_keys():
    assert _problems("\n") == [
        "<spec>:1:1: the symmetry file is empty; write at least domain and group"
    ]


def test_every_domain_builds_its_symmetry():
    cases = {
        "domain: image3d\ngroup: octahedral\nsize: 9\n": ("image3d", "octahedral"),
        "domain: set\ngroup: Sn\noutput: equivariant\nsize: 4\nchannels: 3\n": ("set", None),
        "domain: graph\ngroup: Sn\n": ("graph", None),
        "domain: point_cloud\ngroup: E3 x Sn\ninput: 5x0e\noutput: 1x1o\nnode_level: true\n": (
            "point_cloud",
            None,
        ),
    }
    for text, (domain, name) in cases.items():
        sym = load_symmetry_spec(text).symmetry()
        assert sym.domain == domain
        if name:
            assert name.lower() in sym.name.lower()
    energy = load_symmetry_spec("domain: point_cloud\ngroup: E3\ninput: none\nforces: true\n")
    assert energy.symmetry().forces


def test_domain_specific_keys_are_checked():
    assert _problems("domain: set\ngroup: Sn\noutput: regular\n") == [
        "<spec>:3:9: output: set outputs are 'invariant' (one per set) or 'equivariant' (one row "
        "per element), not 'regular'"
    ]
    assert _problems("domain: image2d\ngroup: C4\nnode_level: true\nforces: true\n") == [
        "<spec>:3:1: node_level: node_level is for point clouds (graphs: 'output: equivariant'); "
        "remove it",
        "<spec>:4:1: forces: forces are for point clouds (an energy model); remove it",
    ]
    assert _problems("domain: point_cloud\ngroup: E3\noutput: equivariant\n") == [
        "<spec>:3:9: output: name the representation the group acts by on a point_cloud output "
        "(e.g. 1x1o), or 'invariant'"
    ]


def test_representations_are_checked_against_the_group():
    assert _problems("domain: vector\ngroup: D4\ninput: irrep(9)\noutput: '1x1o'\n") == [
        "<spec>:3:8: input: 'irrep(9)': D4 has no irrep(9); its irreps are irrep(j,k) with j = 0 "
        "or 1 and 0 <= k <= 2 (irrep(0,0), irrep(1,0), irrep(1,1), irrep(0,2), irrep(1,2))",
        "<spec>:4:9: output: '1x1o': '1o' is an e3nn irrep of O(3), not a representation of D4; "
        "use regular, trivial, standard, irrep(j,k) with j = 0 or 1 and 0 <= k <= 2 (irrep(0,0), "
        "irrep(1,0), irrep(1,1), irrep(0,2), irrep(1,2)) or quotient(C<m>) or quotient(D<m>) "
        "with m dividing 4",
    ]
