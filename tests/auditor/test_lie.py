"""The Lie derivative: forward-mode, exact flows, LEE comparisons the paper predicts, attribution."""

from __future__ import annotations

import pytest
import torch
from torch.func import jvp

import equidesign as eqd
from equidesign.errors import AuditError
from equidesign.symmetry import Symmetry
from equidesign.symmetry.flows import IMAGE_GENERATORS, image_flow, image_velocity


@pytest.mark.parametrize("padding", ["circular", "reflection", "zeros"])
@pytest.mark.parametrize("shape", [(9, 9), (8, 12)])
def test_closed_form_velocities_equal_forward_mode_ad_through_the_resampling(padding, shape):
    x = torch.randn(2, 3, *shape, dtype=torch.float64)
    t0, dt = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    for name in IMAGE_GENERATORS:
        _, ad = jvp(lambda t, name=name: image_flow(name, t, x, padding), (t0,), (dt,))
        torch.testing.assert_close(image_velocity(name, x, padding), ad)


def test_flows_are_exact_on_the_grid():
    x = torch.randn(1, 2, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(
        image_flow("translate_x", torch.tensor(1.0, dtype=torch.float64), x), torch.roll(x, 1, -1)
    )
    quarter = torch.tensor(torch.pi / 2, dtype=torch.float64)
    torch.testing.assert_close(image_flow("rotate", quarter, x), torch.rot90(x, 1, (-2, -1)))


def _cnn(padding="circular", stride=1, act=torch.nn.ReLU, k=3, width=12, depth=4):
    layers, c = [], 1
    for i in range(depth):
        s = stride if i in (1, 2) else 1
        layers += [
            torch.nn.Conv2d(c, width, k, padding=k // 2, padding_mode=padding, stride=s),
            act(),
        ]
        c = width

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.f = torch.nn.Sequential(*layers)
            self.head = torch.nn.Linear(width, 5)

        def forward(self, x):
            return self.head(self.f(x).mean(dim=(2, 3)))

    torch.manual_seed(0)
    return Net().eval()


SYM = Symmetry.images("C8", size=33)  # smooth, disk-supported random inputs


def test_circular_stride1_convolutions_commute_with_translations():
    r = eqd.lie_derivative(_cnn(act=torch.nn.Identity), SYM, generators=["translate_x"])
    assert r["translate_x"].lee < 1e-5


def test_with_relu_the_translation_error_comes_from_the_relus():
    r = eqd.lie_derivative(_cnn(), SYM, generators=["translate_x", "translate_y"])
    for g in ("translate_x", "translate_y"):
        res = r[g]
        assert res.lee > 1e-3
        relus = sum(abs(v) for n, v in res.per_layer.items() if n in ("f.1", "f.3", "f.5", "f.7"))
        assert relus / sum(abs(v) for v in res.per_layer.values()) > 0.95
        assert abs(res.remainder) < 1e-3


def test_zero_padding_and_stride_2_make_translation_error_large():
    circular = eqd.lie_derivative(_cnn(), SYM, generators=["translate_x"])["translate_x"]
    strided = eqd.lie_derivative(_cnn("zeros", 2), SYM, generators=["translate_x"])["translate_x"]
    assert strided.lee > 2 * circular.lee
    top = max(strided.per_layer, key=lambda n: abs(strided.per_layer[n]))
    assert top in ("f.1", "f.2", "f.3", "f.4", "f.5")  # nonlinearities and downsampling


def _so2_cnn():
    from equidesign._libs import escnn_gspaces, escnn_nn

    enn = escnn_nn()
    gs = escnn_gspaces().rot2dOnR2(-1, maximum_frequency=4)
    t_in = enn.FieldType(gs, [gs.trivial_repr])
    hidden = enn.FieldType(gs, ([gs.irrep(0)] + [gs.irrep(k) for k in (1, 2, 3)]) * 2)

    class SO2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.f = enn.SequentialModule(
                enn.R2Conv(t_in, hidden, 5, padding=2),
                enn.NormNonLinearity(hidden, "n_relu"),
                enn.R2Conv(hidden, hidden, 5, padding=2),
                enn.NormNonLinearity(hidden, "n_relu"),
                enn.R2Conv(hidden, hidden, 5, padding=2),
                enn.NormPool(hidden),
            )
            self.head = torch.nn.Linear(8, 5)

        def forward(self, x):
            return self.head(self.f(enn.GeometricTensor(x, t_in)).tensor.mean(dim=(2, 3)))

    torch.manual_seed(0)
    return SO2().eval()


def test_a_steerable_so2_cnn_has_a_far_smaller_rotation_lee_than_a_plain_cnn():
    steerable = eqd.lie_derivative(_so2_cnn(), SYM, generators=["rotate"])["rotate"].lee
    plain = eqd.lie_derivative(_cnn(k=5, width=14, depth=3), SYM, generators=["rotate"])[
        "rotate"
    ].lee
    assert steerable < 0.3 * plain


def test_a_c8_group_cnn_has_a_smaller_rotation_lee_than_a_plain_cnn():
    from tests.zoo import ZOO

    model, sym, _ = ZOO["c8_cnn_escnn"].build(0)
    group = eqd.lie_derivative(model, SYM, generators=["rotate"])["rotate"].lee
    plain = eqd.lie_derivative(_cnn(k=5, width=12, depth=3), SYM, generators=["rotate"])[
        "rotate"
    ].lee
    assert group < plain


def test_functional_operations_show_up_as_the_remainder():
    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
            self.act = torch.nn.ReLU()

        def forward(self, x):
            return (x + self.act(self.conv(x))).abs().mean(dim=(2, 3))  # functional + and abs

    r = eqd.lie_derivative(Residual().eval(), SYM, generators=["translate_x"])["translate_x"]
    assert r.remainder is not None and abs(r.remainder) > 0.05
    assert abs(sum(r.per_layer.values()) + r.remainder - 1) < 1e-9


def test_spatial_outputs_are_moved_back():
    conv = torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular").eval()
    sym = Symmetry.images("C4", "trivial", "2 x trivial", size=16)
    r = eqd.lie_derivative(conv, sym, generators=["translate_x", "rotate"])
    assert r["translate_x"].lee < 1e-5  # a convolution commutes with translations
    assert r["rotate"].lee > 1e-3  # its random kernel is not isotropic
    assert "moved back" in r.output_action


def test_custom_flows_get_their_velocity_by_forward_mode_ad():
    def shift(t, x):  # a fractional circular shift of sequences, by Fourier interpolation
        k = torch.fft.fftfreq(x.shape[-1]).to(x.dtype)
        return torch.fft.ifft(torch.fft.fft(x) * torch.exp(-2j * torch.pi * k * t)).real

    conv = torch.nn.Conv1d(1, 1, 5, padding=2, padding_mode="circular").double().eval()
    sym = Symmetry.custom(
        "T1",
        lambda n, gen: [0.0] * n,
        lambda g, x: x,
        lambda g, y: y,
        example=lambda b, gen: torch.randn(b, 1, 32, generator=gen, dtype=torch.float64),
        flows={"shift": (shift, shift)},
    )
    r = eqd.lie_derivative(conv, sym, layerwise=False)
    assert r["shift"].lee < 1e-9


def test_audit_attaches_the_lie_derivative_and_round_trips():
    from tests.zoo import ZOO

    model, sym, x = ZOO["c4_cnn_torch"].build(0)
    report = eqd.audit(model, sym, x, lie_derivative=True)
    assert set(report.lie_derivative.generators) == set(IMAGE_GENERATORS)
    assert eqd.AuditReport.model_validate_json(report.to_json()) == report
    assert "LIE DERIVATIVE" in report.to_text()
    assert eqd.audit(model, sym, x).lie_derivative is None  # finite group: off by default


def test_continuous_groups_get_the_lie_derivative_by_default():
    model = _so2_cnn()
    report = eqd.audit(model, Symmetry.images("SO2", size=21), gradients=False, layerwise=False)
    assert report.lie_derivative is not None and report.lie_derivative["rotate"].lee >= 0


def test_unknown_generators_and_groups_without_flows_are_errors():
    with pytest.raises(AuditError, match="'spin' unknown"):
        eqd.lie_derivative(_cnn(), SYM, generators=["spin"])
    with pytest.raises(AuditError, match="no continuous generators"):
        eqd.lie_derivative(torch.nn.Identity(), Symmetry.vectors("D4", "regular", "regular"))
