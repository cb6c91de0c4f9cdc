"""Vision transformers built the way timm builds them (fused attention through
``F.scaled_dot_product_attention``), and with ``nn.MultiheadAttention``: the Lie derivative runs
on unchanged code, token tensors are attributed on the patch grid, and a token-wise Linear never
gets a share. As a set model (no positional embedding) a transformer encoder is permutation
equivariant: it PASSes, and a planted token-mixing layer FAILs at its path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import equidesign as eqd


class Attention(nn.Module):
    """timm's Attention with fused_attn: one qkv projection, SDPA, an output projection."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class TorchAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, attention=Attention):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, size=16, patch=4, dim=32, depth=2, heads=4, classes=5, attention=Attention):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, (size // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, attention) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, h*w, dim) tokens
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


def _token_linears(model) -> set[str]:
    return {
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name.startswith("blocks.")
    }


@pytest.mark.parametrize("attention", [Attention, TorchAttention], ids=["sdpa", "mha"])
def test_the_lie_derivative_of_a_vit_runs_and_attributes_on_the_patch_grid(attention):
    model = ViT(attention=attention)
    sym = eqd.Symmetry.images("C4", in_type="3 x trivial", out_type="invariant", size=16)
    lee = eqd.lie_derivative(model, sym, sym.example_input(2, seed=0))
    assert set(lee.generators) >= {"translate_x", "rotate"}
    linears = _token_linears(model)
    for name, result in lee.generators.items():
        assert result.lee > 0  # a ViT is not equivariant to any of them
        assert result.remainder is not None and result.remainder < 0.5, (name, result)
        shares = result.per_layer
        # the patch embedding (stride 4) carries the error; token-wise layers commute with
        # the flow on the patch grid: their own Lie derivative is zero
        assert max(shares, key=lambda n: abs(shares[n])) == "patch_embed", shares
        for layer in linears & set(shares):
            assert abs(shares[layer]) < 1e-3, (name, layer, shares[layer])


def test_a_continuous_audit_of_a_vit_finishes_with_a_verdict():
    model = ViT()
    sym = eqd.Symmetry.images("SO2", in_type="3 x trivial", out_type="invariant", size=16)
    report = eqd.audit(model, sym, n_inputs=2)
    assert report.lie_derivative is not None
    assert report.verdict == "FAIL"  # patches break rotations


class SetTransformer(nn.Module):
    """A transformer encoder on tokens (B, N, C) without positional embedding."""

    def __init__(self, dim=16, depth=2, attention=Attention):
        super().__init__()
        self.embed = nn.Linear(4, dim)
        self.blocks = nn.Sequential(*[Block(dim, 2, attention) for _ in range(depth)])
        self.head = nn.Linear(dim, 3)

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))


class TokenMixing(nn.Module):
    """A planted fault: a Linear across the token axis (an MLP-Mixer layer)."""

    def __init__(self, tokens: int):
        super().__init__()
        self.mix = nn.Linear(tokens, tokens)

    def forward(self, x):
        return x + self.mix(x.transpose(1, 2)).transpose(1, 2)


@pytest.mark.parametrize("attention", [Attention, TorchAttention], ids=["sdpa", "mha"])
def test_a_transformer_encoder_is_permutation_equivariant(attention):
    sym = eqd.Symmetry.sets("equivariant", size=6, channels=4)
    report = eqd.audit(SetTransformer(attention=attention), sym)
    assert report.verdict == "PASS", report.to_text()


def test_a_token_mixing_layer_planted_in_the_encoder_fails_at_its_path():
    model = SetTransformer()
    model.blocks[1].mlp.insert(1, TokenMixing(6))
    sym = eqd.Symmetry.sets("equivariant", size=6, channels=4)
    report = eqd.audit(model, sym)
    assert report.verdict == "FAIL", report.to_text()
    # the Linear across the token axis, inside the planted module
    assert report.first_failing_layer in ("blocks.1.mlp.1", "blocks.1.mlp.1.mix"), report.to_text()
