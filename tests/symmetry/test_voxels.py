"""3D groups on voxel grids: escnn's own FieldType.transform is the oracle."""

from __future__ import annotations

import pytest
import torch

from equidesign.errors import SymmetryError
from equidesign.symmetry import Symmetry


@pytest.mark.parametrize(
    "group, rep, exact, total",
    [
        ("octahedral", "regular", 24, 24),
        ("SO3", "irrep(1)", 24, 27),  # the cube's rotations, then Haar-random ones
        ("O3", "trivial", 48, 51),  # with the inversion
        ("icosahedral", "standard", 12, 60),  # only the tetrahedral rotations are on the grid
    ],
)
def test_voxel_actions_match_escnn(group, rep, exact, total):
    sym = Symmetry.images(group, rep, size=9, n_random=3)
    assert sym.domain == "image3d"
    x = sym.example_input(2, seed=0).double()
    assert x.shape[2:] == (9, 9, 9)
    elements = sym.elements(seed=0).elements
    assert (sum(e.exact for e in elements), len(elements)) == (exact, total)
    ours = sym.in_action.apply(elements, x)
    ft = sym.in_field_type
    for k, e in enumerate(elements):
        if e.exact:  # a permutation of voxels (and a matrix on the fibers): equal to round-off
            ref = ft.transform(x, e.value, order=0).double()
            torch.testing.assert_close(ours[k], ref, atol=1e-12, rtol=0)
        else:  # both interpolate (escnn: splines, here: cubic convolution) a smooth input
            ref = ft.transform(x, e.value, order=3).double()
            assert float((ours[k] - ref).norm() / ref.norm()) < 0.1


def test_voxel_sizes_must_have_three_axes():
    with pytest.raises(SymmetryError, match="acts on 3D grids"):
        Symmetry.images("SO3", size=(9, 9))


def test_off_grid_voxel_inputs_are_smooth_and_ball_supported():
    x = Symmetry.images("SO3", size=11).example_input(1)
    assert float(x[0, 0, 0, 0, 0]) == 0.0 and float(x[0, 0, 5, 5, 5]) != 0.0
