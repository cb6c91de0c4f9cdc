"""Image models: escnn G-CNNs on the plane, correct and with planted faults.

Most entries share :class:`TorchCNN` (escnn blocks inside a plain torch module, invariant
logits) and plant their fault in its ``middle`` slot, between the two escnn blocks, where the
features are regular fields on a 15x15 grid (29x29 inputs, one stride-2 step).
"""

from __future__ import annotations

import torch

from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.symmetry import Symmetry

from ._registry import register

SIZE = 29  # odd: the stride-2 antialiased pool (an odd window) is exact under C4 only at odd sizes
BATCH = 2


def _gspace(group: str):
    """``"C4"`` -> rot2dOnR2(4), ``"D4"`` -> flipRot2dOnR2(4)."""
    gs = escnn_gspaces()
    n = int(group[1:])
    return gs.rot2dOnR2(n) if group[0] == "C" else gs.flipRot2dOnR2(n)


def _trained_look(model: torch.nn.Module, x: torch.Tensor, seed: int) -> torch.nn.Module:
    """Give escnn's batch norms statistics and affine weights as after training; eval mode.

    Three train-mode passes on shifted, rescaled copies of ``x`` fill the running statistics;
    the affine weights (per field, so still equivariant) are drawn from a seeded generator.
    """
    enn = escnn_nn()
    gen = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for k in range(3):
            h = x * (1.0 + 0.3 * k) + 0.2
            model(enn.GeometricTensor(h, model.in_type) if _is_escnn(model) else h)
        for module in model.modules():
            if isinstance(module, enn.InnerBatchNorm):
                for bn in module.modules():
                    if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
                        bn.weight.copy_(0.5 + torch.rand(bn.weight.shape, generator=gen))
                        bn.bias.copy_(0.2 * torch.randn(bn.bias.shape, generator=gen))
    return model.eval()


def _is_escnn(model: torch.nn.Module) -> bool:
    return isinstance(model, escnn_nn().EquivariantModule)


def _images(seed: int, channels: int = 1, size: int = SIZE) -> torch.Tensor:
    return torch.randn(
        BATCH, channels, size, size, generator=torch.Generator().manual_seed(1000 + seed)
    )


class TorchCNN(torch.nn.Module):
    """escnn blocks inside a plain torch module: a tensor ``(B, 1, H, W)`` in, logits out.

    block1: R2Conv(5x5) -> InnerBatchNorm -> ReLU -> a stride-2 step (``down="pool"``: an
    antialiased average pool; ``"conv"``: a 3x3 R2Conv with padding 1);
    ``middle`` (a torch module on the regular-field tensor, identity by default);
    block2: R2Conv(3x3) -> InnerBatchNorm -> ReLU; GroupPooling; mean over space; Linear head
    (a plain Linear is fine after invariant pooling).
    """

    def __init__(
        self, group: str = "C4", width: int = 4, middle=None, classes: int = 10, down="pool"
    ):
        super().__init__()
        enn = escnn_nn()
        gspace = _gspace(group)
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr])
        self.hidden = enn.FieldType(gspace, [gspace.regular_repr] * width)
        self.block1 = enn.SequentialModule(
            enn.R2Conv(self.in_type, self.hidden, 5, padding=2),
            enn.InnerBatchNorm(self.hidden),
            enn.ReLU(self.hidden),
            enn.PointwiseAvgPoolAntialiased2D(self.hidden, sigma=0.66, stride=2)
            if down == "pool"
            else enn.R2Conv(self.hidden, self.hidden, 3, padding=1, stride=2),
        )
        self.middle = middle if middle is not None else torch.nn.Identity()
        self.block2 = enn.SequentialModule(
            enn.R2Conv(self.hidden, self.hidden, 3, padding=1),
            enn.InnerBatchNorm(self.hidden),
            enn.ReLU(self.hidden),
        )
        self.pool = enn.GroupPooling(self.hidden)
        self.head = torch.nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enn = escnn_nn()
        h = self.block1(enn.GeometricTensor(x, self.in_type))
        h = enn.GeometricTensor(self.middle(h.tensor), self.hidden)
        h = self.pool(self.block2(h))
        return self.head(h.tensor.mean(dim=(2, 3)))


def _torch_cnn(seed, group="C4", size=SIZE, width=4, middle=None, down="pool"):
    torch.manual_seed(seed)
    model = TorchCNN(group, width=width, middle=middle, down=down)
    x = _images(seed, size=size)
    _trained_look(model, x, seed)
    return model, Symmetry.images(group, "trivial", "invariant", size=size), x


# ------------------------------------------------------------------------- correct models
@register(
    "c4_cnn_escnn", "PASS", note="a pure escnn SequentialModule: GeometricTensor in, invariant out"
)
def c4_cnn_escnn(seed):
    """Correct: C4 G-CNN built only from escnn modules, 8 regular fields, pooled to 1x1."""
    enn = escnn_nn()
    torch.manual_seed(seed)
    gspace = _gspace("C4")
    t_in = enn.FieldType(gspace, [gspace.trivial_repr])
    hidden = enn.FieldType(gspace, [gspace.regular_repr] * 8)
    pooled = enn.FieldType(gspace, [gspace.trivial_repr] * 8)
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
    x = _images(seed)
    _trained_look(model, x, seed)
    return model, Symmetry.images(gspace, t_in, "invariant", size=SIZE), x


@register(
    "c4_cnn_torch", "PASS", note="escnn blocks in a torch module, a plain Linear head after pooling"
)
def c4_cnn_torch(seed):
    """Correct: :class:`TorchCNN` on C4 (4 regular fields = 16 channels), 10 logits."""
    return _torch_cnn(seed, "C4")


@register("d4_cnn_torch", "PASS", note="the same with reflections (flipRot2dOnR2(4))")
def d4_cnn_torch(seed):
    """Correct: :class:`TorchCNN` on D4 (2 regular fields = 16 channels), 10 logits."""
    return _torch_cnn(seed, "D4", width=2)


@register(
    "c4_dense_escnn", "PASS", note="a dense equivariant output: 2 regular fields on the input grid"
)
def c4_dense_escnn(seed):
    """Correct: fully convolutional C4 model whose output is a field on the same 29x29 grid."""
    enn = escnn_nn()
    torch.manual_seed(seed)
    gspace = _gspace("C4")
    t_in = enn.FieldType(gspace, [gspace.trivial_repr])
    hidden = enn.FieldType(gspace, [gspace.regular_repr] * 3)
    t_out = enn.FieldType(gspace, [gspace.regular_repr] * 2)
    model = enn.SequentialModule(
        enn.R2Conv(t_in, hidden, 5, padding=2),
        enn.InnerBatchNorm(hidden),
        enn.ReLU(hidden),
        enn.R2Conv(hidden, t_out, 3, padding=1),
    )
    _trained_look(model, _images(seed), seed)
    return model, Symmetry.images(gspace, t_in, t_out, size=SIZE), None


@register(
    "c8_cnn_escnn",
    "PASS",
    note="C8: the 45-degree elements are off the pixel grid, interpolated and judged so",
)
def c8_cnn_escnn(seed):
    """Correct: pure escnn C8 G-CNN (3 regular fields), invariant; exact at multiples of 90°.

    The invariant map is a linear R2Conv to trivial fields, not GroupPooling: the audit's C8
    inputs are zero outside a disk, where a max over a constant regular field ties and its
    gradient (the first maximum) stops transforming with the group.
    """
    enn = escnn_nn()
    torch.manual_seed(seed)
    gspace = _gspace("C8")
    t_in = enn.FieldType(gspace, [gspace.trivial_repr])
    hidden = enn.FieldType(gspace, [gspace.regular_repr] * 3)
    pooled = enn.FieldType(gspace, [gspace.trivial_repr] * 4)
    model = enn.SequentialModule(
        enn.R2Conv(t_in, hidden, 5, padding=2),
        enn.InnerBatchNorm(hidden),
        enn.ReLU(hidden),
        enn.R2Conv(hidden, hidden, 3, padding=1),
        enn.InnerBatchNorm(hidden),
        enn.ReLU(hidden),
        enn.R2Conv(hidden, pooled, 3, padding=1),
        enn.PointwiseAdaptiveAvgPool2D(pooled, 1),
    )
    sym = Symmetry.images(gspace, t_in, "invariant", size=SIZE)
    _trained_look(model, sym.example_input(BATCH, seed=seed), seed)
    return model, sym, None


@register(
    "right_parity_stride",
    "PASS",
    note="a stride-2 3x3 R2Conv (odd window, padding 1) on an odd size (29): exact under C4",
)
def right_parity_stride(seed):
    """Correct twin of ``wrong_parity_stride``: the same model on 29x29 images."""
    return _torch_cnn(seed, "C4", size=29, down="conv")


# ------------------------------------------------------------------------- planted faults
@register(
    "plain_batchnorm_regular",
    "FAIL",
    "middle",
    "normalization",
    "torch.nn.BatchNorm2d over regular fields: per-channel statistics and weights differ "
    "within a field, so rotating the field (permuting its channels) changes the result",
)
def plain_batchnorm_regular(seed):
    """Fault: a plain BatchNorm2d (trained-looking, per-channel values) on regular fields."""
    bn = torch.nn.BatchNorm2d(16)
    model, sym, x = _torch_cnn(seed, "C4", middle=bn)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # per-channel statistics and weights, as after training
        bn.running_mean.copy_(torch.randn(16, generator=gen))
        bn.running_var.copy_(torch.exp(torch.randn(16, generator=gen)))
        bn.weight.copy_(0.25 + 1.75 * torch.rand(16, generator=gen))
        bn.bias.copy_(0.5 * torch.randn(16, generator=gen))
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
    """Fault visible only in train mode: an untrained plain BatchNorm2d on regular fields."""
    torch.manual_seed(seed)
    model = TorchCNN("C4", middle=torch.nn.BatchNorm2d(16))
    return model.eval(), Symmetry.images("C4", size=SIZE), None


@register(
    "wrong_parity_stride",
    "FAIL",
    "block1.3",
    "boundary",
    "a stride-2 3x3 R2Conv (padding 1) on an even size (28): the sampled grid is not centred, "
    "so rotating the input moves the output samples by a pixel",
)
def wrong_parity_stride(seed):
    """Fault: ``right_parity_stride`` on 28x28 images; the strided R2Conv breaks C4."""
    return _torch_cnn(seed, "C4", size=28, down="conv")


class PixelBias(torch.nn.Module):
    """A user layer adding a learned per-pixel bias map: ties the features to absolute positions."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


@register(
    "custom_layer_bug",
    "FAIL",
    "middle",
    "custom_layer",
    "a user layer adding a learned, non-symmetric per-pixel bias map to the regular fields",
)
def custom_layer_bug(seed):
    """Fault: :class:`PixelBias` between the escnn blocks."""
    torch.manual_seed(seed + 1)
    return _torch_cnn(seed, "C4", middle=PixelBias(16, (SIZE + 1) // 2))


class OneSidedCrop(torch.nn.Module):
    """A user layer zeroing the first row and column: a one-sided crop-and-pad bug."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[..., 0, :] = 0
        x[..., :, 0] = 0
        return x


class DenseCNN(torch.nn.Module):
    """escnn blocks in a torch module with a dense output: ``(B, 1, H, W) -> (B, 8, H, W)``.

    block1: R2Conv(5x5) -> InnerBatchNorm -> ReLU (4 regular fields); ``middle`` (a torch module
    on that tensor); block2: R2Conv(3x3) to 2 regular fields. No stride: any size works.
    """

    def __init__(self, middle=None):
        super().__init__()
        enn = escnn_nn()
        gspace = _gspace("C4")
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr])
        self.hidden = enn.FieldType(gspace, [gspace.regular_repr] * 4)
        self.out_type = enn.FieldType(gspace, [gspace.regular_repr] * 2)
        self.block1 = enn.SequentialModule(
            enn.R2Conv(self.in_type, self.hidden, 5, padding=2),
            enn.InnerBatchNorm(self.hidden),
            enn.ReLU(self.hidden),
        )
        self.middle = middle if middle is not None else torch.nn.Identity()
        self.block2 = enn.R2Conv(self.hidden, self.out_type, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enn = escnn_nn()
        h = self.block1(enn.GeometricTensor(x, self.in_type))
        h = enn.GeometricTensor(self.middle(h.tensor), self.hidden)
        return self.block2(h).tensor


@register(
    "border_crop_bug",
    "FAIL",
    "middle",
    "boundary",
    "zeroing the first row and column treats two borders unlike the other two: the error of "
    "the dense output sits in a 2-pixel ring at the border",
)
def border_crop_bug(seed):
    """Fault: :class:`OneSidedCrop` inside a dense-output C4 model (2 regular fields out)."""
    torch.manual_seed(seed)
    model = DenseCNN(middle=OneSidedCrop())
    x = _images(seed)
    _trained_look(model, x, seed)
    return model, Symmetry.images("C4", "trivial", "2 x regular", size=SIZE), x
