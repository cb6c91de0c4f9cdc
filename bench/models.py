"""The models the benchmarks time (built here, independent of the test suite)."""

from __future__ import annotations

import torch

from equidesign._libs import escnn, escnn_gspaces, escnn_nn


def c4_cnn(size: int = 29, width: int = 8) -> torch.nn.Module:
    """An escnn C4 regular-field CNN with an invariant head (input (B, 1, size, size))."""
    gs, enn = escnn_gspaces(), escnn_nn()
    r2 = gs.rot2dOnR2(4)
    t_in = enn.FieldType(r2, [r2.trivial_repr])
    hidden = enn.FieldType(r2, [r2.regular_repr] * width)

    class C4CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = enn.SequentialModule(
                enn.R2Conv(t_in, hidden, 5, padding=2),
                enn.InnerBatchNorm(hidden),
                enn.ReLU(hidden, inplace=True),
                enn.PointwiseAvgPoolAntialiased2D(hidden, sigma=0.66, stride=2),
                enn.R2Conv(hidden, hidden, 5, padding=2),
                enn.InnerBatchNorm(hidden),
                enn.ReLU(hidden, inplace=True),
                enn.R2Conv(hidden, hidden, 5, padding=2),
                enn.InnerBatchNorm(hidden),
                enn.ReLU(hidden, inplace=True),
            )
            self.pool = enn.GroupPooling(hidden)
            self.head = torch.nn.Linear(width, 10)

        def forward(self, x):
            h = self.pool(self.features(enn.GeometricTensor(x, t_in)))
            return self.head(h.tensor.mean(dim=(2, 3)))

    torch.manual_seed(0)
    return C4CNN().eval()


def d4_mlp(width: int = 8, depth: int = 3) -> torch.nn.Module:
    """A symm-learning eLinear MLP on D4 regular representations (input (B, 16))."""
    escnn()
    from symm_learning.nn import eLinear

    from equidesign.groups import build_rep, parse_group

    g = parse_group("D4")
    r_in, r_h = build_rep(g, "2 x regular"), build_rep(g, f"{width} x regular")
    layers = [eLinear(r_in, r_h), torch.nn.ReLU()]
    for _ in range(depth - 1):
        layers += [eLinear(r_h, r_h), torch.nn.ReLU()]
    layers.append(eLinear(r_h, build_rep(g, "trivial")))
    torch.manual_seed(0)
    return torch.nn.Sequential(*layers).eval()
