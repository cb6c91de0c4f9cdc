"""Vector models: symm-learning eLinear MLPs, correct and with planted faults."""

from __future__ import annotations

import torch

from equidesign._libs import escnn
from equidesign.groups import build_rep, parse_group
from equidesign.symmetry import Symmetry

from ._registry import register

escnn()  # before symm_learning imports escnn itself
from symm_learning.nn import eLinear  # noqa: E402


def _rep(group: str, expr: str):
    return build_rep(parse_group(group), expr)


def _mlp(group, seq, out="trivial", width="4 x regular", middle=None, inp="2 x regular"):
    """eLinear(inp -> width), ReLU, [middle or eLinear(width -> width)], ReLU, eLinear(-> out)."""
    r_in, r_h, r_out = _rep(group, inp), _rep(group, width), _rep(group, out)
    mid = middle(r_h) if middle is not None else eLinear(r_h, r_h)
    return torch.nn.Sequential(
        eLinear(r_in, r_h), torch.nn.ReLU(), mid, torch.nn.ReLU(), eLinear(r_h, r_out)
    ).eval()


# ------------------------------------------------------------------------- correct models
@register("d4_elinear_mlp", "PASS", note="eLinear layers on D4 regular representations")
def d4_elinear_mlp(seed):
    torch.manual_seed(seed)
    return _mlp("D4", seed), Symmetry.vectors("D4", "2 x regular", "invariant"), None


@register("ico_elinear", "PASS", note="the icosahedral group: 60-dimensional regular fields")
def ico_elinear(seed):
    torch.manual_seed(seed)
    model = _mlp("icosahedral", seed, width="regular", inp="standard + trivial")
    return model, Symmetry.vectors("icosahedral", "standard + trivial", "invariant"), None


@register(
    "tanh_on_d4_irrep",
    "PASS",
    note="pointwise tanh on D4's 2-dim irrep: signed permutations and an odd function commute",
)
def tanh_on_d4_irrep(seed):
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
    "ReLU on C8's 2-dim rotation irrep, which is not a permutation representation",
)
def relu_on_irreps(seed):
    torch.manual_seed(seed)
    r_in, r_h = _rep("C8", "regular"), _rep("C8", "4 x irrep(1)")
    model = torch.nn.Sequential(eLinear(r_in, r_h), torch.nn.ReLU(), eLinear(r_h, r_h))
    return model.eval(), Symmetry.vectors("C8", "regular", r_h), None


@register(
    "relu_hidden_by_head",
    "NEEDS_ATTENTION",
    "1",
    "nonlinearity",
    "ReLU on irrep(1) features that the next eLinear maps to invariants (Hom = 0): end to end "
    "the break is invisible",
)
def relu_hidden_by_head(seed):
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
    "a plain torch.nn.Linear between regular representations: its weight is not in Hom_G",
)
def unprojected_linear(seed):
    torch.manual_seed(seed)
    model = _mlp("D4", seed, middle=lambda r: torch.nn.Linear(r.size, r.size))
    return model, Symmetry.vectors("D4", "2 x regular", "invariant"), None


@register(
    "tiny_breakage",
    "NEEDS_ATTENTION",
    "2",
    "unconstrained_layer",
    "a plain Linear holding a projected weight plus a 1e-3 relative perturbation",
)
def tiny_breakage(seed):
    torch.manual_seed(seed)

    def middle(r):
        proj = eLinear(r, r).eval()
        lin = torch.nn.Linear(r.size, r.size)
        with torch.no_grad():
            w = proj.weight.detach()
            lin.weight.copy_(w + 1e-3 * w.abs().mean() * torch.randn_like(w))
            lin.bias.copy_(proj.bias.detach())
        return lin

    model = _mlp("D4", seed, middle=middle, out="regular")
    return model, Symmetry.vectors("D4", "2 x regular", "regular"), None


class _MaskedGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None


class GradientMask(torch.nn.Module):
    """Identity forward; its backward scales each coordinate's gradient differently."""

    def __init__(self, size: int):
        super().__init__()
        self.register_buffer("mask", torch.linspace(0.2, 1.8, size))

    def forward(self, x):
        return _MaskedGradient.apply(x, self.mask)


@register(
    "gradient_only",
    "FAIL",
    "2",
    "gradient",
    "a custom autograd.Function: identity forward, per-coordinate scaled backward",
)
def gradient_only(seed):
    torch.manual_seed(seed)
    r_in, r_h = _rep("D4", "2 x regular"), _rep("D4", "4 x regular")
    model = torch.nn.Sequential(
        eLinear(r_in, r_h), torch.nn.ReLU(), GradientMask(r_h.size), eLinear(r_h, r_h)
    )
    return model.eval(), Symmetry.vectors("D4", "2 x regular", r_h), None


@register(
    "wrong_output_type",
    "FAIL",
    None,
    "output_type",
    "a correct model whose output is the regular representation, declared invariant",
)
def wrong_output_type(seed):
    torch.manual_seed(seed)
    model = _mlp("D4", seed, out="regular")
    return model, Symmetry.vectors("D4", "2 x regular", "invariant"), None


class OffsetSum(torch.nn.Module):
    """Sums each regular field through a large offset: exact in real numbers, not in float32."""

    def __init__(self, fields: int, order: int, offset: float = 3e4):
        super().__init__()
        self.fields, self.order, self.offset = fields, order, offset

    def forward(self, x):
        x = x.reshape(x.shape[0], self.fields, self.order)
        return (x + self.offset).sum(-1) - self.order * self.offset


@register(
    "precision_cancellation",
    "NEEDS_ATTENTION",
    "1",
    "precision",
    "an invariant sum computed through a large offset: float32 cancellation, exact in float64",
)
def precision_cancellation(seed):
    torch.manual_seed(seed)
    r_in, r_h = _rep("D4", "2 x regular"), _rep("D4", "4 x regular")
    model = torch.nn.Sequential(eLinear(r_in, r_h), OffsetSum(4, 8))
    return model.eval(), Symmetry.vectors("D4", "2 x regular", "invariant"), None
