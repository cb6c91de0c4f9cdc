"""Image models: escnn G-CNNs, correct and with planted faults."""

from __future__ import annotations

import torch

from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.symmetry import Symmetry

from ._registry import register


def _gspace(group: str):
    gs = escnn_gspaces()
    n = int(group[1:])
    return gs.rot2dOnR2(n) if group[0] == "C" else gs.flipRot2dOnR2(n)


def _warm_up(model: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    """A few train-mode passes so that batch norms hold non-trivial statistics, as after training."""
    model.train()
    with torch.no_grad():
        for k in range(3):
            model(x * (1.0 + 0.3 * k) + 0.2)
    return model.eval()


class TorchCNN(torch.nn.Module):
    """escnn blocks inside a plain torch module: tensor in, invariant logits out.

    ``middle`` (a torch module on the regular-field tensor) sits between the two escnn blocks;
    the faults are planted there.
    """

    def __init__(self, group="C4", width=4, middle=None, pool_stride=True, classes=3):
        super().__init__()
        enn = escnn_nn()
        gspace = _gspace(group)
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr])
        self.hidden = enn.FieldType(gspace, [gspace.regular_repr] * width)
        blocks = [
            enn.R2Conv(self.in_type, self.hidden, 5, padding=2),
            enn.InnerBatchNorm(self.hidden),
            enn.ReLU(self.hidden),
        ]
        if pool_stride:
            blocks.append(enn.PointwiseAvgPoolAntialiased2D(self.hidden, sigma=0.66, stride=2))
        self.block1 = enn.SequentialModule(*blocks)
        self.middle = middle if middle is not None else torch.nn.Identity()
        self.block2 = enn.SequentialModule(
            enn.R2Conv(self.hidden, self.hidden, 3, padding=1),
            enn.InnerBatchNorm(self.hidden),
            enn.ReLU(self.hidden),
        )
        self.pool = enn.GroupPooling(self.hidden)
        self.head = torch.nn.Linear(width, classes)

    def forward(self, x):
        enn = escnn_nn()
        h = self.block1(enn.GeometricTensor(x, self.in_type))
        h = enn.GeometricTensor(self.middle(h.tensor), self.hidden)
        h = self.pool(self.block2(h))
        return self.head(h.tensor.mean(dim=(2, 3)))


def _cnn(seed, group="C4", size=15, **kw):
    torch.manual_seed(seed)
    model = TorchCNN(group, **kw)
    x = torch.randn(4, 1, size, size)
    _warm_up(model, x)
    return model, Symmetry.images(group, "trivial", "invariant", size=size), x


# ------------------------------------------------------------------------- correct models
@register("c4_cnn_torch", "PASS", note="escnn blocks in a torch module, plain head after pooling")
def c4_cnn_torch(seed):
    return _cnn(seed, "C4")


@register("d4_cnn_torch", "PASS", note="the same with reflections (flipRot2dOnR2(4))")
def d4_cnn_torch(seed):
    return _cnn(seed, "D4")


@register("right_parity_stride", "PASS", note="a stride-2 odd window on an odd size (15)")
def right_parity_stride(seed):
    return _cnn(seed, "C4", size=15)


@register("c4_cnn_escnn", "PASS", note="a pure escnn SequentialModule taking a GeometricTensor")
def c4_cnn_escnn(seed):
    enn = escnn_nn()
    torch.manual_seed(seed)
    gspace = _gspace("C4")
    t_in = enn.FieldType(gspace, [gspace.trivial_repr])
    hidden = enn.FieldType(gspace, [gspace.regular_repr] * 4)
    pooled = enn.FieldType(gspace, [gspace.trivial_repr] * 4)
    model = enn.SequentialModule(
        enn.R2Conv(t_in, hidden, 5, padding=2),
        enn.InnerBatchNorm(hidden),
        enn.ReLU(hidden),
        enn.PointwiseAvgPoolAntialiased2D(hidden, sigma=0.66, stride=2),
        enn.R2Conv(hidden, hidden, 3, padding=1),
        enn.InnerBatchNorm(hidden),
        enn.ReLU(hidden),
        enn.GroupPooling(hidden),
        enn.PointwiseAdaptiveAvgPool2D(pooled, 1),
    )
    x = torch.randn(4, 1, 17, 17)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(enn.GeometricTensor(x + 0.3, t_in))
    model.eval()
    return model, Symmetry.images(gspace, t_in, "invariant", size=17), x


@register("c4_dense_escnn", "PASS", note="a dense output: 2 regular fields on the input grid")
def c4_dense_escnn(seed):
    enn = escnn_nn()
    torch.manual_seed(seed)
    gspace = _gspace("C4")
    t_in = enn.FieldType(gspace, [gspace.trivial_repr])
    hidden = enn.FieldType(gspace, [gspace.regular_repr] * 3)
    t_out = enn.FieldType(gspace, [gspace.regular_repr] * 2)
    model = enn.SequentialModule(
        enn.R2Conv(t_in, hidden, 5, padding=2),
        enn.ReLU(hidden),
        enn.R2Conv(hidden, t_out, 3, padding=1),
    ).eval()
    return model, Symmetry.images(gspace, t_in, t_out, size=14), None


@register("c8_cnn_escnn", "PASS", note="C8: 45-degree elements are interpolated and judged so")
def c8_cnn_escnn(seed):
    torch.manual_seed(seed)
    model = TorchCNN("C8", width=3, pool_stride=False)
    sym = Symmetry.images("C8", "trivial", "invariant", size=21)
    _warm_up(model, sym.example_input(4, seed=seed))
    return model, sym, None


# ------------------------------------------------------------------------- planted faults
@register(
    "plain_batchnorm_regular",
    "FAIL",
    "middle",
    "normalization",
    "torch.nn.BatchNorm2d over regular fields with per-channel statistics and weights",
)
def plain_batchnorm_regular(seed):
    torch.manual_seed(seed)
    bn = torch.nn.BatchNorm2d(16)
    model, sym, x = _cnn(seed, "C4", middle=bn)
    with torch.no_grad():  # per-channel statistics and weights, as after training
        bn.running_mean.copy_(torch.linspace(-0.5, 0.5, 16))
        bn.running_var.copy_(torch.linspace(0.5, 2.0, 16))
        bn.weight.copy_(torch.linspace(0.5, 1.5, 16))
    return model, sym, x


@register(
    "plain_batchnorm_at_init",
    "FAIL",
    "middle",
    "normalization",
    "plain BatchNorm2d at its initial values: harmless in eval mode, but in train mode its "
    "per-channel batch statistics depend on the batch and its weights will train apart",
)
def plain_batchnorm_at_init(seed):
    torch.manual_seed(seed)
    model = TorchCNN("C4", middle=torch.nn.BatchNorm2d(16))
    return model.eval(), Symmetry.images("C4", size=15), None


@register(
    "wrong_parity_stride",
    "FAIL",
    "block1.3",
    "boundary",
    "a stride-2 pool with an odd window on an even size (16): the windows are not centred",
)
def wrong_parity_stride(seed):
    return _cnn(seed, "C4", size=16)


class PixelBias(torch.nn.Module):
    """A user layer that adds a learned per-pixel bias map: ties features to absolute positions."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.randn(1, channels, size, size) * 0.5)

    def forward(self, x):
        return x + self.bias


@register(
    "custom_layer_bug",
    "FAIL",
    "middle",
    "custom_layer",
    "a user layer adding a non-symmetric per-pixel bias map to the features",
)
def custom_layer_bug(seed):
    torch.manual_seed(seed + 1)
    return _cnn(seed, "C4", middle=PixelBias(16, 8))


class OneSidedCrop(torch.nn.Module):
    """A user layer that zeroes the first row and column: a one-sided crop-and-pad bug."""

    def forward(self, x):
        x = x.clone()
        x[..., 0, :] = 0
        x[..., :, 0] = 0
        return x


@register(
    "border_crop_bug",
    "FAIL",
    "middle",
    "boundary",
    "zeroing the first row and column treats two sides of the image unlike the others",
)
def border_crop_bug(seed):
    return _cnn(seed, "C4", size=29, middle=OneSidedCrop())
