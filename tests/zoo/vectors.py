"""Vector models: symm-learning eLinear MLPs on finite groups, correct and with planted faults.

The D4 MLP ``eLinear(2 x regular -> 4 x regular), ReLU, eLinear(4 x regular -> 4 x regular),
ReLU, eLinear(4 x regular -> trivial)`` is the base; faults replace or wrap its layers. Layer
paths are ``torch.nn.Sequential`` indices ("2" is the middle layer).
"""

from __future__ import annotations

import torch

from equidesign._libs import escnn
from equidesign.groups import build_rep, parse_group
from equidesign.symmetry import Symmetry

from ._registry import register

escnn()  # equidesign imports escnn first (its cache folder), then symm_learning may
from symm_learning.nn import eLinear  # noqa: E402


def _rep(group: str, expr: str):
    return build_rep(parse_group(group), expr)


def _mlp(
    group, inp="2 x regular", width="4 x regular", out="trivial", middle=None, wrap=None, act=None
):
    """eLinear(inp -> width), act, [middle(rep) or eLinear(width -> width)], act, eLinear(-> out).

    ``act`` (a pointwise module class, ReLU by default) is equivariant on regular (permutation)
    representations; ``wrap`` (a callable on the hidden rep) inserts a module right after the
    first activation.
    """
    act = act or torch.nn.ReLU
    r_in, r_h, r_out = _rep(group, inp), _rep(group, width), _rep(group, out)
    layers = [eLinear(r_in, r_h), act()]
    if wrap is not None:
        layers.append(wrap(r_h))
    layers += [middle(r_h) if middle else eLinear(r_h, r_h), act(), eLinear(r_h, r_out)]
    return torch.nn.Sequential(*layers).eval()


# ------------------------------------------------------------------------- correct models
@register("d4_elinear_mlp", "PASS", note="eLinear layers between D4 regular representations")
def d4_elinear_mlp(seed):
    """Correct: the base D4 MLP, invariant output."""
    torch.manual_seed(seed)
    return _mlp("D4"), Symmetry.vectors("D4", "2 x regular", "invariant"), None


@register("ico_elinear", "PASS", note="the icosahedral group: 60-dimensional regular fields")
def ico_elinear(seed):
    """Correct: the same pattern on the icosahedral group (regular -> 2 x regular -> trivial)."""
    torch.manual_seed(seed)
    model = _mlp("icosahedral", inp="regular", width="2 x regular")
    return model, Symmetry.vectors("icosahedral", "regular", "invariant"), None


@register(
    "tanh_on_d4_irrep",
    "PASS",
    note="pointwise tanh on D4's 2-dim irrep: its matrices are signed permutations and tanh is "
    "odd, so they commute (a static lint would wrongly flag it)",
)
def tanh_on_d4_irrep(seed):
    """Correct: eLinear -> Tanh on 4 x irrep(1,1) -> eLinear, equivariant output."""
    torch.manual_seed(seed)
    r_in, r_h = _rep("D4", "2 x regular"), _rep("D4", "4 x irrep(1,1)")
    model = torch.nn.Sequential(eLinear(r_in, r_h), torch.nn.Tanh(), eLinear(r_h, r_h))
    return model.eval(), Symmetry.vectors("D4", "2 x regular", r_h), None


# ------------------------------------------------------------------------- planted faults
@register(
    "relu_on_irreps",
    "FAIL",
    "1",
    "nonlinearity",
    "ReLU on C8's 2-dim rotation irrep, which is not a permutation representation: clipping "
    "coordinates does not commute with rotating the vectors",
)
def relu_on_irreps(seed):
    """Fault: eLinear(regular -> 4 x irrep(1)) -> ReLU -> eLinear, output 4 x irrep(1)."""
    torch.manual_seed(seed)
    r_in, r_h = _rep("C8", "regular"), _rep("C8", "4 x irrep(1)")
    model = torch.nn.Sequential(eLinear(r_in, r_h), torch.nn.ReLU(), eLinear(r_h, r_h))
    return model.eval(), Symmetry.vectors("C8", "regular", r_h), None


@register(
    "relu_hidden_by_head",
    "NEEDS_ATTENTION",
    "1",
    "nonlinearity",
    "ReLU on C8 irrep(1) features that the next eLinear discards (Hom(irrep(1), trivial) = 0): "
    "the layer is broken, the output is exact",
)
def relu_hidden_by_head(seed):
    """Hidden fault: ReLU on 4 x irrep(1) + 2 x trivial, then eLinear(-> 3 x trivial)."""
    torch.manual_seed(seed)
    r_in, r_h = _rep("C8", "regular"), _rep("C8", "4 x irrep(1) + 2 x trivial")
    model = torch.nn.Sequential(
        eLinear(r_in, r_h), torch.nn.ReLU(), eLinear(r_h, _rep("C8", "3 x trivial"))
    )
    return model.eval(), Symmetry.vectors("C8", "regular", "invariant"), None


@register(
    "unprojected_linear",
    "FAIL",
    "2",
    "unconstrained_layer",
    "a plain torch.nn.Linear between D4 regular representations: its weight is not in Hom_G",
)
def unprojected_linear(seed):
    """Fault: the D4 MLP with its middle eLinear replaced by a plain Linear(32, 32)."""
    torch.manual_seed(seed)
    model = _mlp("D4", middle=lambda r: torch.nn.Linear(r.size, r.size))
    return model, Symmetry.vectors("D4", "2 x regular", "invariant"), None


@register(
    "unprojected_before_plain_head",
    "FAIL",
    "2",
    "unconstrained_layer",
    "a plain Linear(32, 32) on D4 regular features with nothing typed after it (a plain head "
    "follows): tested against the action flowing into it",
)
def unprojected_before_plain_head(seed):
    """Fault: eLinear(2 x regular -> 4 x regular), ReLU, Linear(32, 32), ReLU, Linear(32, 1)."""
    torch.manual_seed(seed)
    r_in, r_h = _rep("D4", "2 x regular"), _rep("D4", "4 x regular")
    model = torch.nn.Sequential(
        eLinear(r_in, r_h),
        torch.nn.ReLU(),
        torch.nn.Linear(r_h.size, r_h.size),
        torch.nn.ReLU(),
        torch.nn.Linear(r_h.size, 1),
    )
    return model.eval(), Symmetry.vectors("D4", "2 x regular", "invariant"), None


TINY = 5e-4  # the perturbation's norm relative to the weight's; end to end: ~1e-3 relative error


@register(
    "tiny_breakage",
    "NEEDS_ATTENTION",
    "2",
    "unconstrained_layer",
    f"a plain Linear holding an exactly projected weight plus a {TINY:g}-relative random "
    "perturbation: approximately equivariant",
)
def tiny_breakage(seed):
    """Approximate fault: the middle layer is a Linear with eLinear's weight, slightly perturbed.

    The D4 MLP with SiLU activations and an equivariant 4 x regular output."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    def middle(r):
        exact = eLinear(r, r).eval()
        lin = torch.nn.Linear(r.size, r.size)
        with torch.no_grad():
            w = exact.weight.detach()
            noise = torch.randn(w.shape, generator=gen)
            lin.weight.copy_(w + TINY * w.norm() / noise.norm() * noise)
            lin.bias.copy_(exact.bias.detach())
        return lin

    # an equivariant (not invariant) output keeps the relative error steady across seeds (a
    # scalar head's output can be small, which inflates it); SiLU, not ReLU: a ReLU kink that
    # the perturbation flips would make the input gradient jump (~2e-2) and the fault look broken
    model = _mlp("D4", middle=middle, out="4 x regular", act=torch.nn.SiLU)
    return model, Symmetry.vectors("D4", "2 x regular", "4 x regular"), None


class WrongLayoutMLP(torch.nn.Module):
    """The D4 MLP written out by hand, with a layout bug in ``forward`` itself (no submodule).

    Between the first and the middle eLinear it reads the 4 regular fields as group-major
    ``(|G|, fields)`` instead of field-major: a fixed permutation that does not commute with the
    group, while every layer alone stays equivariant.
    """

    def __init__(self):
        super().__init__()
        r_in, r_h = _rep("D4", "2 x regular"), _rep("D4", "4 x regular")
        self.inp, self.mid = eLinear(r_in, r_h), eLinear(r_h, r_h)
        self.out = eLinear(r_h, _rep("D4", "trivial"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        h = h.reshape(-1, 8, 4).transpose(1, 2).reshape(-1, 32)  # the bug: wrong field layout
        return self.out(torch.relu(self.mid(h)))


@register(
    "wrong_layout_in_forward",
    "FAIL",
    "",
    "custom_layer",
    "the model's own forward reshapes regular fields with the wrong layout between two correct "
    "eLinear layers: the fault is in the root module, not in any layer",
)
def wrong_layout_in_forward(seed):
    """Root fault: :class:`WrongLayoutMLP`; every submodule passes alone, the model does not."""
    torch.manual_seed(seed)
    return WrongLayoutMLP().eval(), Symmetry.vectors("D4", "2 x regular", "invariant"), None


class _MaskedGradient(torch.autograd.Function):
    """Identity forward; backward multiplies the incoming gradient by ``mask``."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None


class GradientMask(torch.nn.Module):
    """Identity forward; its backward scales each coordinate's gradient by a different factor."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mask", torch.linspace(0.2, 1.8, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _MaskedGradient.apply(x, self.mask)


@register(
    "gradient_only",
    "FAIL",
    "2",
    "gradient",
    "a custom autograd.Function: identity forward, backward scales each coordinate of a "
    "regular field differently, so gradients stop transforming with the group",
)
def gradient_only(seed):
    """Gradient fault: the D4 MLP with :class:`GradientMask` after its first ReLU."""
    torch.manual_seed(seed)
    model = _mlp("D4", wrap=lambda r: GradientMask(r.size))
    return model, Symmetry.vectors("D4", "2 x regular", "invariant"), None


@register(
    "wrong_output_type",
    "FAIL",
    None,
    "output_type",
    "a correct model whose output is the regular representation of D4, declared invariant",
)
def wrong_output_type(seed):
    """Declaration fault: the D4 MLP ending in eLinear(-> regular), declared invariant."""
    torch.manual_seed(seed)
    model = _mlp("D4", out="regular")
    return model, Symmetry.vectors("D4", "2 x regular", "invariant"), None


class OffsetSum(torch.nn.Module):
    """Sums each regular field through a large offset: exact in real numbers, not in float32.

    ``(x + offset).sum(-1) - order * offset``: the offset's round-off depends on the order of
    the summands, which the group permutes.
    """

    def __init__(self, fields: int, order: int, offset: float = 3e3):
        super().__init__()
        self.fields, self.order, self.offset = fields, order, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], self.fields, self.order)
        return (x + self.offset).sum(-1) - self.order * self.offset


@register(
    "precision_cancellation",
    "NEEDS_ATTENTION",
    "1",
    "precision",
    "an invariant sum over each regular field computed through a 3e3 offset: float32 "
    "cancellation (order-dependent round-off), exact in float64",
)
def precision_cancellation(seed):
    """Precision fault: eLinear(2 x regular -> 4 x regular) -> :class:`OffsetSum`, invariant."""
    torch.manual_seed(seed)
    r_in, r_h = _rep("D4", "2 x regular"), _rep("D4", "4 x regular")
    model = torch.nn.Sequential(eLinear(r_in, r_h), OffsetSum(4, 8))
    return model.eval(), Symmetry.vectors("D4", "2 x regular", "invariant"), None
