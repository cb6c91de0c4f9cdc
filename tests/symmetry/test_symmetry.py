"""Symmetry constructors: elements, inputs, and one-line errors for bad descriptions."""

from __future__ import annotations

import pytest
import torch

from equidesign.errors import EquidesignError, SymmetryError
from equidesign.symmetry import Symmetry


def test_finite_groups_are_tested_exhaustively():
    es = Symmetry.vectors("D4", "regular").elements()
    assert es.exhaustive and len(es.elements) == 8
    assert sum(e.identity for e in es.elements) == 1


def test_c8_on_images_marks_45_degree_elements_as_interpolated():
    es = Symmetry.images("C8", size=15).elements()
    assert [e.exact for e in es.elements] == [True, False] * 4


def test_so2_on_images_tests_the_grid_subgroup_and_haar_samples_reproducibly():
    sym = Symmetry.images("SO2", size=15, n_random=5)
    a = [e.label for e in sym.elements(seed=3).elements]
    b = [e.label for e in sym.elements(seed=3).elements]
    c = [e.label for e in sym.elements(seed=4).elements]
    assert a == b and a != c
    assert a[:4] == ["rot 0°", "rot 90°", "rot 180°", "rot 270°"] and len(a) == 9


@pytest.mark.parametrize("rep", ["regular", "irrep(1,0)", "trivial + irrep(1,0)"])
def test_d1_on_images_acts_by_the_flip_of_escnns_reflection_group(rep):
    """escnn's D1 on the plane has a CyclicGroup(2) fibre group: D1 names are moved onto it."""
    sym = Symmetry.images("D1", rep, rep, size=9)
    es = sym.elements().elements
    assert len(es) == 2 and all(e.exact for e in es)
    x = sym.example_input(1, seed=0)
    flip = next(e for e in es if not e.identity)
    moved = sym.in_action.apply([flip], x)[0]
    # a reflection: not the identity, and its own inverse
    assert not torch.allclose(moved, x)
    torch.testing.assert_close(sym.in_action.apply([flip], moved)[0], x)


def test_image_inputs_need_a_size_and_the_error_says_how_to_give_it():
    sym = Symmetry.images("C4")
    with pytest.raises(SymmetryError, match="size=H"):
        sym.example_input(2)


def test_image_inputs_have_the_field_type_channels():
    x = Symmetry.images("D4", "3 x trivial", size=11).example_input(2, seed=1)
    assert x.shape == (2, 3, 11, 11)


def test_off_grid_groups_get_smooth_disk_supported_inputs():
    x = Symmetry.images("C8", size=21).example_input(1)
    assert float(x[0, 0, 0, 0]) == 0.0 and float(x[0, 0, 10, 10]) != 0.0


@pytest.mark.parametrize(
    "group, message",
    [("C0", "'C0' is not a group"), ("Q8", "is not a group"), ("SE3", r"does not act on R\^2")],
)
def test_bad_image_groups_give_one_line_errors(group, message):
    with pytest.raises(EquidesignError, match=message) as info:
        Symmetry.images(group, size=9)
    assert "\n" not in str(info.value)


def test_bad_representation_names_list_what_is_allowed():
    with pytest.raises(EquidesignError, match="use regular, trivial"):
        Symmetry.vectors("D4", "regullar")


def test_representations_of_another_group_are_refused():
    other = Symmetry.vectors("C4", "regular").in_action.rep
    with pytest.raises(SymmetryError, match="belongs to C4"):
        Symmetry.vectors("D4", other)


def test_custom_symmetry_samples_with_the_generator_and_adds_the_identity():
    def sample(n, gen):
        return [torch.randperm(5, generator=gen) for _ in range(n)]

    sym = Symmetry.custom(
        "S5",
        sample,
        lambda p, x: x[:, p],
        None,
        identity=torch.arange(5),
        compose=lambda p, q: q[p],
        example=lambda b, gen: torch.randn(b, 5, 3, generator=gen),
        n=4,
    )
    es = sym.elements(seed=1)
    assert es.elements[0].identity and len(es.elements) == 5
    assert sym.example_input(2).shape == (2, 5, 3)


def test_custom_symmetry_without_example_asks_for_inputs():
    sym = Symmetry.custom("G", lambda n, g: [0] * n, lambda g, x: x, None)
    with pytest.raises(SymmetryError, match="inputs="):
        sym.example_input(2)
