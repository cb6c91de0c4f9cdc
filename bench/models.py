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


class _Block(torch.nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c_out)
        self.relu1 = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.skip = (
            torch.nn.Identity()
            if stride == 1 and c_in == c_out
            else torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        )
        self.relu2 = torch.nn.ReLU()

    def forward(self, x):
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + self.skip(x))


def resnet_like(width: int = 16, classes: int = 10) -> torch.nn.Module:
    """A ResNet-like CNN of about 10 convolutional layers for 64x64 RGB images."""

    class ResNetLike(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Sequential(
                torch.nn.Conv2d(3, width, 3, 1, 1, bias=False),
                torch.nn.BatchNorm2d(width),
                torch.nn.ReLU(),
            )
            self.layer1 = _Block(width, width, 1)
            self.layer2 = _Block(width, 2 * width, 2)
            self.layer3 = _Block(2 * width, 2 * width, 1)
            self.layer4 = _Block(2 * width, 4 * width, 2)
            self.fc = torch.nn.Linear(4 * width, classes)

        def forward(self, x):
            h = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
            return self.fc(h.mean(dim=(2, 3)))

    torch.manual_seed(0)
    model = ResNetLike()
    with torch.no_grad():  # trained-looking batch-norm statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()
