"""Voxel models: escnn 3D steerable CNNs (``R3Conv``) under SO(3), correct and with planted
faults.

:class:`VoxelCNN` lifts a scalar 9x9x9 grid to fields of the SO(3) irreps of degree 0 and 1,
with IID batch norms and a Fourier ELU sampled on the 24 rotations of the cube, and maps them
to dense invariant (trivial) fields. Faults sit in its ``middle`` slot, on the normalised
fields: ReLU on every component (the degree-1 ones included), or a plain BatchNorm3d. Both break
the cube's rotations, which the voxel grid carries exactly, so the audit fails them strictly.
"""

from __future__ import annotations

import torch

from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.symmetry import Symmetry

from ._registry import register
from .so2 import trained_look

SIZE = 9  # odd, no stride: the cube's rotations map the grid onto itself
BATCH = 2
COPIES = 1  # copies of the irreps of degree 0..1 per hidden type
DEGREE = 1


def fourier_elu(gspace) -> torch.nn.Module:
    """ELU on the 24 rotations of the cube: exact there, approximate at other angles."""
    G = gspace.fibergroup
    return escnn_nn().FourierELU(
        gspace, COPIES, irreps=G.bl_irreps(DEGREE), type="thomson_cube", N=1
    )


class VoxelCNN(torch.nn.Module):
    """``(B, 1, D, H, W)`` grids -> ``(B, 2, D, H, W)`` invariant fields that rotate with the grid.

    block1: R3Conv(3x3x3) -> IIDBatchNorm3d; ``middle`` (identity by default); block2:
    FourierELU -> R3Conv(3x3x3) -> IIDBatchNorm3d -> FourierELU; head: a 1x1x1 R3Conv to two
    trivial fields.
    """

    def __init__(self, middle: torch.nn.Module | None = None):
        super().__init__()
        enn = escnn_nn()
        gspace = escnn_gspaces().rot3dOnR3()
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr])
        self.hidden = fourier_elu(gspace).in_type
        self.out_type = enn.FieldType(gspace, [gspace.trivial_repr] * 2)
        self.block1 = enn.SequentialModule(
            enn.R3Conv(self.in_type, self.hidden, 3, padding=1),
            enn.IIDBatchNorm3d(self.hidden),
        )
        self.middle = middle if middle is not None else torch.nn.Identity()
        self.block2 = enn.SequentialModule(
            fourier_elu(gspace),
            enn.R3Conv(self.hidden, self.hidden, 3, padding=1),
            enn.IIDBatchNorm3d(self.hidden),
            fourier_elu(gspace),
        )
        self.head = enn.R3Conv(self.hidden, self.out_type, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enn = escnn_nn()
        h = self.block1(enn.GeometricTensor(x, self.in_type))
        h = self.block2(enn.GeometricTensor(self.middle(h.tensor), self.hidden))
        return self.head(h).tensor


def _build(seed, middle=None):
    torch.manual_seed(seed)
    model = VoxelCNN(middle)
    # the 24 cube rotations (exact) and 4 Haar-random ones (interpolated: the costly part)
    sym = Symmetry.images("SO3", "trivial", "2 x trivial", size=SIZE, n_random=4)
    x = sym.example_input(BATCH, seed=6000 + seed)  # smooth, ball-supported: off-grid rotations
    return trained_look(model, x, seed), sym, x


# ------------------------------------------------------------------------- correct models
@register(
    "so3_voxel_cnn",
    "PASS",
    note="R3Conv on SO(3) irreps of degree 0..1, IID batch norm, Fourier ELU on the cube",
)
def so3_voxel_cnn(seed):
    """Correct: exact on the cube's rotations, within the interpolation floor at any angle."""
    return _build(seed)


# ------------------------------------------------------------------------- planted faults
@register(
    "relu_on_so3_irreps",
    "FAIL",
    "middle",
    "nonlinearity",
    note="ReLU on every component of degree-1 fields: a rotation mixes their three components",
)
def relu_on_so3_irreps(seed):
    return _build(seed, middle=torch.nn.ReLU())


@register(
    "plain_batchnorm3d_on_so3_irreps",
    "FAIL",
    "middle",
    "normalization",
    note="BatchNorm3d: a mean and a scale per component of the degree-1 fields, not per field",
)
def plain_batchnorm3d_on_so3_irreps(seed):
    channels = fourier_elu(escnn_gspaces().rot3dOnR3()).in_type.size
    return _build(seed, middle=torch.nn.BatchNorm3d(channels))
