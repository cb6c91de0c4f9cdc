"""Small models shared by the auditor's tests (the planted-fault zoo lives in tests/zoo)."""

from __future__ import annotations

import torch

from equidesign.groups import build_rep, parse_group


def d4_mlp(seed: int = 0, hidden: str = "4 x regular") -> torch.nn.Module:
    from symm_learning.nn import eLinear

    torch.manual_seed(seed)
    g = parse_group("D4")
    r_in, r_h, r_out = (build_rep(g, e) for e in ("2 x regular", hidden, "trivial"))
    return torch.nn.Sequential(
        eLinear(r_in, r_h), torch.nn.ReLU(), eLinear(r_h, r_h), torch.nn.ReLU(), eLinear(r_h, r_out)
    ).eval()


class DeepSets(torch.nn.Module):
    """Permutation-invariant sum over set elements; ``first=True`` plants a first-element readout."""

    def __init__(self, channels: int = 3, first: bool = False):
        super().__init__()
        self.phi = torch.nn.Sequential(torch.nn.Linear(channels, 16), torch.nn.Tanh())
        self.rho = torch.nn.Linear(16, 2)
        self.first = first

    def forward(self, x):  # (B, N, C)
        h = self.phi(x)
        pooled = h[:, 0] if self.first else h.sum(1)
        return self.rho(pooled)


def set_symmetry(n: int = 5, channels: int = 3):
    from equidesign.symmetry import Symmetry

    return Symmetry.custom(
        f"S{n}",
        lambda k, gen: [torch.randperm(n, generator=gen) for _ in range(k)],
        lambda p, x: x[:, p],
        None,
        compose=lambda p, q: q[p],
        identity=torch.arange(n),
        example=lambda b, gen: torch.randn(b, n, channels, generator=gen),
    )
