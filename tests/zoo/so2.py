"""SO(2) image models: escnn steerable CNNs with band-limited fields, correct and with planted
faults.

:class:`SteerableCNN` lifts a scalar image to fields of the irreps of frequency 0..2
(``rot2dOnR2(N=-1)``), with IID batch norms and Fourier ELUs, and pools the norms of the fields
to invariants, or maps them to a dense invariant output. Faults sit in its ``middle`` slot, a torch module on the tensor of the first
block's normalised fields: ReLU on every component (frequency 1 and 2 included), or a plain BatchNorm2d
that normalises each component on its own. Both break the quarter turns, which the pixel grid
carries exactly, so the audit fails them strictly.
"""

from __future__ import annotations

import torch

from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.symmetry import Symmetry

from ._registry import register

SIZE = 15  # odd, no stride: quarter turns map the grid onto itself
BATCH = 2
COPIES = 3  # copies of the irreps of frequency 0..2 per hidden type
FREQUENCY = 2
SAMPLES = 16  # rotations the Fourier ELU samples each field on


def fourier_elu(gspace) -> torch.nn.Module:
    G = gspace.fibergroup
    return escnn_nn().FourierELU(gspace, COPIES, irreps=G.bl_irreps(FREQUENCY), N=SAMPLES)


class SteerableCNN(torch.nn.Module):
    """``(B, 1, H, W)`` images -> ``(B, 4)`` SO(2)-invariant logits, or ``dense=True``: four
    invariant (trivial) fields ``(B, 4, H, W)`` that rotate with the image.

    block1: R2Conv(5x5) -> IIDBatchNorm2d; ``middle`` (identity by default, on the normalised
    fields, where a fault bites hardest); block2: FourierELU -> R2Conv(3x3) -> IIDBatchNorm2d ->
    FourierELU; then NormPool, a mean over space and a Linear, or (dense) a 1x1 R2Conv to
    trivial fields. Faults go in the dense model: a mean over the grid of positive norms would
    dilute their error to a few percent.
    """

    def __init__(self, middle: torch.nn.Module | None = None, dense: bool = False):
        super().__init__()
        enn = escnn_nn()
        gspace = escnn_gspaces().rot2dOnR2(N=-1)
        self.dense = dense
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr])
        self.hidden = fourier_elu(gspace).in_type
        self.block1 = enn.SequentialModule(
            enn.R2Conv(self.in_type, self.hidden, 5, padding=2),
            enn.IIDBatchNorm2d(self.hidden),
        )
        self.middle = middle if middle is not None else torch.nn.Identity()
        self.block2 = enn.SequentialModule(
            fourier_elu(gspace),
            enn.R2Conv(self.hidden, self.hidden, 3, padding=1),
            enn.IIDBatchNorm2d(self.hidden),
            fourier_elu(gspace),
        )
        if dense:
            self.out_type = enn.FieldType(gspace, [gspace.trivial_repr] * 4)
            self.head = enn.R2Conv(self.hidden, self.out_type, 1)
        else:
            self.pool = enn.NormPool(self.hidden)
            self.head = torch.nn.Linear(len(self.hidden), 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enn = escnn_nn()
        h = self.block1(enn.GeometricTensor(x, self.in_type))
        h = self.block2(enn.GeometricTensor(self.middle(h.tensor), self.hidden))
        if self.dense:
            return self.head(h).tensor
        return self.head(self.pool(h).tensor.mean(dim=(2, 3)))


def trained_look(model: torch.nn.Module, x: torch.Tensor, seed: int) -> torch.nn.Module:
    """Batch-norm statistics and affine weights as after training; eval mode.

    Three train-mode passes on shifted, rescaled copies of ``x`` fill the running statistics of
    every batch norm (escnn's and plain ones); affine weights are drawn from a seeded generator.
    """
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for k in range(3):
            model(x * (1.0 + 0.3 * k) + 0.2)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.affine:
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=gen))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=gen))
    return model.eval()


def _build(seed, middle=None, dense=True):
    torch.manual_seed(seed)
    model = SteerableCNN(middle, dense)
    out = "4 x trivial" if dense else "invariant"
    sym = Symmetry.images("SO2", "trivial", out, size=SIZE)
    x = sym.example_input(BATCH, seed=5000 + seed)  # smooth, disk-supported: off-grid angles
    return trained_look(model, x, seed), sym, x


# ------------------------------------------------------------------------- correct models
@register(
    "so2_steerable_cnn",
    "PASS",
    note="band-limited SO(2) fields, IID batch norm, Fourier ELU, norm pooling: invariant",
)
def so2_steerable_cnn(seed):
    """Correct: exact on quarter turns, within the interpolation floor at any angle."""
    return _build(seed, dense=False)


@register(
    "so2_steerable_dense",
    "PASS",
    note="the same fields with a dense invariant output map that rotates with the image",
)
def so2_steerable_dense(seed):
    """Correct: dense outputs, the faults' twin."""
    return _build(seed)


# ------------------------------------------------------------------------- planted faults
@register(
    "relu_on_so2_irreps",
    "FAIL",
    "middle",
    "nonlinearity",
    note="ReLU on every component of frequency-1 and -2 fields: a rotation mixes them",
)
def relu_on_so2_irreps(seed):
    return _build(seed, middle=torch.nn.ReLU())


@register(
    "plain_batchnorm_on_so2_irreps",
    "FAIL",
    "middle",
    "normalization",
    note="BatchNorm2d: a mean and a scale per component of the irrep fields, not per field",
)
def plain_batchnorm_on_so2_irreps(seed):
    channels = fourier_elu(escnn_gspaces().rot2dOnR2(N=-1)).in_type.size
    return _build(seed, middle=torch.nn.BatchNorm2d(channels))
