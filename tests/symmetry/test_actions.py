"""Group actions on tensors, checked against escnn's own transforms (the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.symmetry import FieldAction, RepAction, Symmetry
from equidesign.symmetry.actions import FiberMap, TestElement, element_label
from equidesign.symmetry.resample import GridMap

GSPACES = {
    "C4": lambda gs: gs.rot2dOnR2(4),
    "D4": lambda gs: gs.flipRot2dOnR2(4),
    "C8": lambda gs: gs.rot2dOnR2(8),
    "D2": lambda gs: gs.flipRot2dOnR2(2),
    "C2": lambda gs: gs.rot2dOnR2(2),
}


def _elements(G):
    return [TestElement(element_label(g), g) for g in G.elements]


@pytest.mark.parametrize("name", sorted(GSPACES))
@pytest.mark.parametrize("fields", ["regular", "irreps", "trivial"])
def test_field_action_matches_escnn_on_grid_exact_elements(name, fields):
    gspace = GSPACES[name](escnn_gspaces())
    G = gspace.fibergroup
    reps = {
        "regular": [gspace.regular_repr] * 2,
        "irreps": list(G.irreps()),
        "trivial": [gspace.trivial_repr] * 3,
    }[fields]
    ft = escnn_nn().FieldType(gspace, reps)
    x = torch.randn(2, ft.size, 9, 9)
    action = FieldAction(ft)
    elements = _elements(G)
    moved = action.apply(elements, x)
    for k, e in enumerate(elements):
        if not action.exact([e], (9, 9))[0]:
            continue
        expected = ft.transform(x, e.value)
        torch.testing.assert_close(moved[k], expected, rtol=0, atol=1e-6)


def test_off_grid_elements_are_interpolated_and_close_to_escnn_on_smooth_images():
    gspace = escnn_gspaces().rot2dOnR2(8)
    ft = escnn_nn().FieldType(gspace, [gspace.trivial_repr])
    i, j = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing="ij")
    x = torch.exp(-((i - 9) ** 2 + (j - 12) ** 2) / 8.0)[None, None]
    elements = _elements(gspace.fibergroup)
    action = FieldAction(ft)
    assert action.exact(elements, (21, 21)) == [True, False] * 4
    moved = action.apply(elements, x)
    for k in (1, 3, 5, 7):
        expected = ft.transform(x, elements[k].value, order=3)
        assert float((moved[k] - expected).abs().max()) < 2e-2


def test_grid_map_is_exact_for_quarter_turns_and_flips_on_non_square_flips_only():
    flip = torch.tensor([[[1.0, 0.0], [0.0, -1.0]]], dtype=torch.float64)
    quarter = torch.tensor([[[0.0, -1.0], [1.0, 0.0]]], dtype=torch.float64)
    assert GridMap.build(flip, (5, 7)).exact.tolist() == [True]
    assert GridMap.build(quarter, (7, 7)).exact.tolist() == [True]
    assert GridMap.build(quarter, (5, 7)).exact.tolist() == [False]


def test_cubic_interpolation_reproduces_a_linear_ramp_inside_the_grid():
    angle = 0.3
    c, s = np.cos(angle), np.sin(angle)
    inv = torch.tensor([[[c, s], [-s, c]]], dtype=torch.float64)
    j = torch.arange(15.0, dtype=torch.float64)
    ramp = (j[None, :] * 0.1 + 1.0).expand(15, 15).clone().to(torch.float64)
    out = GridMap.build(inv, (15, 15)).apply(ramp[None, None])[0, 0, 0]
    # the source of pixel (i, j) lies at the rotated point; a ramp in x is reproduced exactly
    centre = 7.0
    x, y = j - centre, -(torch.arange(15.0, dtype=torch.float64) - centre)
    xs = c * x[None, :] + s * y[:, None]
    expected = (xs + centre) * 0.1 + 1.0
    inner = slice(4, 11)
    torch.testing.assert_close(
        out[inner, inner], expected[inner, inner].double(), atol=1e-9, rtol=0
    )


def test_fiber_map_gather_path_equals_the_matrix_product():
    from equidesign._libs import escnn_group

    G = escnn_group().dihedral_group(4)
    elements = _elements(G)
    mats = np.stack([G.regular_representation(e.value) for e in elements])
    fast = FiberMap.build(mats)
    assert fast.perm is not None and fast.is_permutation
    slow = FiberMap(fast.matrices)
    x = torch.randn(len(elements), 3, 8, 5)
    torch.testing.assert_close(fast.apply(x, 2), slow.apply(x, 2))


def test_signed_permutations_take_the_gather_path_with_signs():
    from equidesign._libs import escnn_group

    G = escnn_group().dihedral_group(4)
    rep = G.irrep(1, 1)
    elements = _elements(G)
    fm = FiberMap.build(np.stack([rep(e.value) for e in elements]))
    assert fm.perm is not None and not fm.is_permutation  # -1 entries: not a permutation
    x = torch.randn(len(elements), 4, 2)
    torch.testing.assert_close(fm.apply(x, -1), FiberMap(fm.matrices).apply(x, -1))


def test_rep_action_applies_representation_matrices():
    sym = Symmetry.vectors("C8", "irrep(1) + regular", "invariant")
    elements = sym.elements().elements
    x = torch.randn(3, sym.in_action.size)
    moved = sym.in_action.apply(elements, x)
    rep = sym.in_action.rep
    for k, e in enumerate(elements):
        expected = x @ torch.as_tensor(rep(e.value), dtype=x.dtype).T
        torch.testing.assert_close(moved[k], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("group", ["C4", "D4", "C8", "icosahedral"])
def test_actions_are_homomorphisms(group):
    sym = Symmetry.vectors(group, "regular", "regular")
    elements = sym.elements().elements[:6]
    x = torch.randn(2, sym.in_action.size, dtype=torch.float64)
    for g in elements:
        for h in elements:
            gh = sym.compose(g, h)
            lhs = sym.in_action.apply([gh], x)[0]
            rhs = sym.in_action.apply([g], sym.in_action.apply([h], x)[0])[0]
            torch.testing.assert_close(lhs, rhs)


def test_rep_action_rejects_a_wrong_dimension_with_the_fix():
    sym = Symmetry.vectors("D4", "2 x regular")
    with pytest.raises(Exception, match="dimension 16"):
        sym.in_action.apply(sym.elements().elements, torch.randn(2, 15))


def test_rep_action_reports_permutation_support():
    assert RepAction(Symmetry.vectors("C8", "regular").in_action.rep).is_permutation() is True
    assert Symmetry.vectors("C8", "irrep(1)").in_action.is_permutation() is False
