"""The Lie derivative: forward-mode, exact flows, fibres of steerable fields, per-input LEE, the
comparisons the paper predicts, and layer-wise attribution."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacfwd, jvp

import equidesign as eqd
from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.auditor.lie import lie_findings
from equidesign.errors import AuditError
from equidesign.symmetry import Symmetry
from equidesign.symmetry.flows import IMAGE_GENERATORS, image_flow, image_velocity

SYM = Symmetry.images("C8", size=33)  # smooth, disk-supported random inputs


# ------------------------------------------------------------------------- flows
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


@pytest.mark.parametrize("name", IMAGE_GENERATORS)
def test_image_flows_have_second_derivatives(name):
    """jacfwd of jacfwd through the resampling equals the finite difference of the first
    derivative (inside a cell, where the cubic weights are polynomials in t)."""
    x = torch.randn(1, 2, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(3))

    def moved(t):
        return image_flow(name, t, x, "reflection")

    t, h = torch.tensor(0.3, dtype=torch.float64), 1e-6
    second = jacfwd(jacfwd(moved))(t)
    numeric = (jacfwd(moved)(t + h) - jacfwd(moved)(t - h)) / (2 * h)
    assert second.abs().max() > 1e-3  # not trivially zero
    torch.testing.assert_close(second, numeric, rtol=1e-5, atol=1e-6)


def test_fibre_velocity_of_a_vector_field_is_the_derivative_of_its_rotation():
    """A field of SO(2)'s irrep 1 turns with the plane: d/dt [rho(R_t) y(R_-t p)] at 0."""
    enn = escnn_nn()
    gs = escnn_gspaces().rot2dOnR2(-1, maximum_frequency=2)
    t_in = enn.FieldType(gs, [gs.trivial_repr])
    t_out = enn.FieldType(gs, [gs.irrep(1), gs.irrep(2)])
    flow = Symmetry.images(gs, t_in, t_out, size=11).flows("reflection")["rotate"]
    y = torch.randn(2, 4, 11, 11, dtype=torch.float64)
    t0, dt = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    _, ad = jvp(lambda t: flow.act_out(t, y), (t0,), (dt,))
    torch.testing.assert_close(flow.velocity_out(y), ad)
    # and the finite action is escnn's: a quarter turn rotates irrep-1 vectors by 90 degrees
    quarter = torch.tensor(torch.pi / 2, dtype=torch.float64)
    expected = enn.GeometricTensor(y.float(), t_out).transform(gs.fibergroup.element(torch.pi / 2))
    torch.testing.assert_close(
        flow.act_out(quarter, y).float(), expected.tensor, rtol=1e-5, atol=1e-5
    )


# ------------------------------------------------------------------------- models
def _cnn(padding="circular", stride=1, act=torch.nn.ReLU, k=3, width=12, depth=4):
    torch.manual_seed(0)  # before any layer is built: the test models are the same every run
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

    return Net().eval()


def _plain(width, seed, kernel=5, depth=3, out=4):
    """A plain CNN: convolutions with ReLUs, a last convolution to ``out`` maps, average pool."""
    torch.manual_seed(seed)
    layers, c = [], 1
    for i in range(depth):
        last = i == depth - 1
        layers.append(torch.nn.Conv2d(c, out if last else width, kernel, padding=kernel // 2))
        if not last:
            layers.append(torch.nn.ReLU())
        c = width
    return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1)).eval()


def _steerable(kind, seed, kernel=5, depth=3, out=4):
    """The same layout in escnn: C8 regular fields with ReLU, or SO(2) irreps 0 and 1 with
    FourierELU; a last convolution to ``out`` invariant maps, average pool."""
    enn = escnn_nn()
    torch.manual_seed(seed)
    if kind == "C8":
        gs = escnn_gspaces().rot2dOnR2(8)
        hidden = enn.FieldType(gs, [gs.regular_repr] * 3)

        def act():
            return enn.ReLU(hidden)

    else:
        gs = escnn_gspaces().rot2dOnR2(-1, maximum_frequency=8)

        def act():
            return enn.FourierELU(gs, 2, irreps=[(0,), (1,)], N=16, inplace=False)

        hidden = act().in_type
    t_in = enn.FieldType(gs, [gs.trivial_repr])
    t_out = enn.FieldType(gs, [gs.trivial_repr] * out)
    layers, c = [], t_in
    for i in range(depth):
        last = i == depth - 1
        layers.append(enn.R2Conv(c, t_out if last else hidden, kernel, padding=kernel // 2))
        if not last:
            layers.append(act())
        c = hidden
    body = enn.SequentialModule(*layers, enn.PointwiseAdaptiveAvgPool2D(t_out, 1))

    class Steerable(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            return self.body(enn.GeometricTensor(x, t_in)).tensor

    return Steerable().eval()


def _params(model):
    return sum(p.numel() for p in model.parameters())


def _rotation_lee(model):
    return eqd.lie_derivative(model, SYM, generators=["rotate"], layerwise=False, n_inputs=8)[
        "rotate"
    ].lee


# ------------------------------------------------------------------------- per-input LEE
@pytest.mark.parametrize("normalization", ["relative", "softmax", "absolute"])
def test_one_inputs_lee_does_not_depend_on_the_rest_of_the_batch(normalization):
    model = _cnn("zeros", 2)
    x = SYM.example_input(8, seed=0)
    values = [
        eqd.lie_derivative(
            model, SYM, xs, ["translate_x"], layerwise=False, normalization=normalization
        )["translate_x"].per_input[0]
        for xs in (x[:1], x[:2], x)
    ]
    assert values[0] > 0
    assert max(values) - min(values) <= 1e-5 * values[0]


def test_the_relative_lee_ignores_a_constant_added_to_the_output():
    model = _cnn("zeros", 2)
    shifted = _cnn("zeros", 2)
    with torch.no_grad():
        shifted.head.bias += 100.0  # a large bias: the Lie derivative does not change
    a = eqd.lie_derivative(model, SYM, generators=["rotate"], layerwise=False)["rotate"].lee
    b = eqd.lie_derivative(shifted, SYM, generators=["rotate"], layerwise=False)["rotate"].lee
    assert a == pytest.approx(b, rel=2e-3)  # float32: f(x) - f(0) loses digits next to 100


def test_softmax_normalisation_is_the_papers_mean_of_the_probabilities_lie_derivative():
    model = _cnn("zeros", 2).double()
    x = SYM.example_input(3, seed=1, dtype=torch.float64)
    r = eqd.lie_derivative(model, SYM, x, ["translate_x"], layerwise=False, normalization="softmax")
    probs = lambda t: torch.softmax(model(image_flow("translate_x", t, x, "reflection")), -1)  # noqa: E731
    t0 = torch.zeros((), dtype=torch.float64)
    _, dp = jvp(probs, (t0,), (torch.ones_like(t0),))
    expected = dp.abs().mean(-1)
    per_input = torch.tensor(r["translate_x"].per_input, dtype=torch.float64)
    torch.testing.assert_close(per_input, expected)
    assert r.normalization_kind == "softmax" and "softmax" in r.normalization


def test_softmax_normalisation_refuses_outputs_that_are_not_class_scores():
    conv = torch.nn.Conv2d(1, 2, 3, padding=1).eval()
    sym = Symmetry.images("C4", "trivial", "2 x trivial", size=16)
    with pytest.raises(AuditError, match="'softmax' is for classifiers"):
        eqd.lie_derivative(conv, sym, normalization="softmax")


# ------------------------------------------------------------------------- the paper's checks
def test_circular_stride1_convolutions_commute_with_translations():
    r = eqd.lie_derivative(_cnn(act=torch.nn.Identity), SYM, generators=["translate_x"])
    assert r["translate_x"].lee < 1e-5


def test_zero_padding_stride_2_and_relu_make_the_translation_lee_large():
    def lee(model):
        return eqd.lie_derivative(model, SYM, generators=["translate_x"], layerwise=False)

    linear, relu, strided = lee(_cnn(act=torch.nn.Identity)), lee(_cnn()), lee(_cnn("zeros", 2))
    assert strided["translate_x"].lee > 1e-3
    assert strided["translate_x"].lee > 100 * linear["translate_x"].lee
    assert strided["translate_x"].lee > 3 * relu["translate_x"].lee


@pytest.mark.parametrize("kind", ["C8", "SO2"])
def test_a_steerable_cnn_has_a_far_smaller_rotation_lee_than_a_plain_cnn_of_its_size(kind):
    """C8: the plain twin has as many parameters (912 against 967); SO2: as many channels
    (6 per hidden layer; the steerable model has 162 parameters, weight sharing). Means over
    three initialisations: a single random plain CNN's LEE ranges over 0.06-1.3."""
    seeds = (0, 1, 2)
    steerable = [_steerable(kind, s) for s in seeds]
    plain = [_plain(4 if kind == "C8" else 6, s) for s in seeds]
    if kind == "C8":
        assert 0.8 < _params(plain[0]) / _params(steerable[0]) < 1.25
    else:
        assert steerable[0].body[0].out_type.size == plain[0][0].out_channels
    ours = sum(map(_rotation_lee, steerable)) / len(seeds)
    theirs = sum(map(_rotation_lee, plain)) / len(seeds)
    assert theirs > 5 * ours, (ours, theirs)  # measured: C8 10x, SO2 9x


def test_a_steerable_vector_field_output_has_a_lie_derivative_near_zero():
    """An exact SO(2) map trivial -> irrep(1): its output vectors turn with the plane. Moving
    them only spatially (as if they were two scalars) gives a LEE near 1."""
    enn = escnn_nn()
    gs = escnn_gspaces().rot2dOnR2(-1, maximum_frequency=4)
    t_in = enn.FieldType(gs, [gs.trivial_repr])
    t_out = enn.FieldType(gs, [gs.irrep(1)])
    torch.manual_seed(0)
    conv = enn.R2Conv(t_in, t_out, 7, padding=3)

    class Vectors(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(enn.GeometricTensor(x, t_in)).tensor

    model = Vectors().eval()
    sym = Symmetry.images(gs, t_in, t_out, size=33)
    as_vectors = eqd.lie_derivative(model, sym, generators=["rotate"])["rotate"].lee
    scalars = Symmetry.images(gs, t_in, enn.FieldType(gs, [gs.trivial_repr] * 2), size=33)
    as_scalars = eqd.lie_derivative(model, scalars, generators=["rotate"])["rotate"].lee
    assert as_vectors < 0.1  # escnn's 7x7 frequency-1 filters on the pixel grid: 0.07
    assert as_scalars > 10 * as_vectors
    assert eqd.audit(model, sym, gradients=False).verdict == "PASS"


def test_rotations_of_finite_group_regular_fields_are_skipped_with_the_reason():
    enn = escnn_nn()
    gs = escnn_gspaces().rot2dOnR2(8)
    t_in = enn.FieldType(gs, [gs.trivial_repr])
    t_out = enn.FieldType(gs, [gs.regular_repr])
    torch.manual_seed(0)
    conv = enn.R2Conv(t_in, t_out, 5, padding=2).eval()
    sym = Symmetry.images(gs, t_in, t_out, size=21)
    r = eqd.lie_derivative(conv, sym, layerwise=False)
    assert set(r.generators) == {"translate_x", "translate_y"}
    assert set(r.skipped) == {"rotate", "shear", "scale"}
    assert "45° steps" in r.skipped["rotate"] and "regular" in r.skipped["rotate"]
    assert any(n.startswith("rotate not measured") for n in r.notes)


# ------------------------------------------------------------------------- attribution
STRIDED, RELUS = {"f.2", "f.4"}, {"f.1", "f.3", "f.5", "f.7"}


def test_with_relu_the_translation_error_comes_from_the_relus():
    r = eqd.lie_derivative(_cnn(), SYM, generators=["translate_x", "translate_y"])
    for g in ("translate_x", "translate_y"):
        res = r[g]
        assert res.lee > 1e-5
        relus = sum(abs(v) for n, v in res.per_layer.items() if n in RELUS)
        assert relus / sum(abs(v) for v in res.per_layer.values()) > 0.95
        assert res.remainder < 1e-3 and abs(res.attributed - 1) < 1e-3
    assert r.layer_kinds["f.1"] == "ReLU" and r.layer_kinds["f.0"] == "Conv2d"


@pytest.mark.parametrize("generator", ["translate_x", "rotate"])
def test_the_attribution_names_the_strided_convolutions_and_the_relus(generator):
    r = eqd.lie_derivative(_cnn("zeros", 2), SYM, generators=[generator])
    shares = r[generator].per_layer
    ranked = sorted(shares, key=lambda n: -shares[n])
    top, acc = [], 0.0
    for name in ranked:  # the layers that carry 85% of the Lie derivative
        top.append(name)
        acc += shares[name]
        if acc >= 0.85:
            break
    assert set(top) <= STRIDED | RELUS, shares
    assert set(top) & STRIDED and set(top) & RELUS
    assert r.layer_kinds["f.2"] == "Conv2d stride 2"
    (finding,) = lie_findings(r)
    assert finding.kind == "lie_attribution" and finding.location in STRIDED | RELUS
    assert "Conv2d stride 2" in finding.title and "ReLU" in finding.title
    assert "downsampling and nonlinearity" in finding.title
    assert "anti-aliased" in finding.fix


def test_functional_operations_show_up_as_the_remainder():
    class Residual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
            self.act = torch.nn.ReLU()

        def forward(self, x):
            return (x + self.act(self.conv(x))).abs().mean(dim=(2, 3))  # functional + and abs

    torch.manual_seed(0)
    r = eqd.lie_derivative(Residual().eval(), SYM, generators=["translate_x"])["translate_x"]
    assert r.remainder is not None and r.remainder > 0.05
    # the shares and the remainder's projection on L_X f add up to one
    assert abs(sum(r.per_layer.values()) - r.attributed) < 1e-5  # float32 pushes
    assert r.attributed < 0.95


def test_escnn_shares_use_the_fibre_action_and_rotations_of_regular_fields_are_not_attributed():
    from tests.zoo import ZOO

    model, _, _ = ZOO["c8_cnn_escnn"].build(0)
    r = eqd.lie_derivative(model, SYM, generators=["translate_x", "rotate"])
    shares = r["translate_x"].per_layer
    assert r["translate_x"].remainder < 1e-3
    assert max(abs(v) for v in shares.values()) < 1.5
    assert r["rotate"].per_layer == {} and r["rotate"].lee > 0
    assert any("rotate: no layer-wise attribution: layer 0" in n for n in r.notes)

    so2 = _steerable("SO2", 0)  # SO(2) fields turn continuously: rotations are attributed
    s = eqd.lie_derivative(so2, SYM, generators=["rotate"])["rotate"]
    assert s.per_layer and s.remainder < 1e-3 and abs(s.attributed - 1) < 1e-3


# ------------------------------------------------------------------------- outputs, API
def test_spatial_outputs_are_moved_back():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="circular").eval()
    sym = Symmetry.images("C4", "trivial", "2 x trivial", size=16)
    r = eqd.lie_derivative(conv, sym, generators=["translate_x", "rotate"], padding="circular")
    assert r["translate_x"].lee < 1e-5  # a convolution commutes with translations
    assert r["rotate"].lee > 1e-3  # its random kernel is not isotropic
    assert "moved back" in r.output_action


def test_custom_flows_get_their_velocity_by_forward_mode_ad():
    def shift(t, x):  # a fractional circular shift of sequences, by Fourier interpolation
        k = torch.fft.fftfreq(x.shape[-1]).to(x.dtype)
        return torch.fft.ifft(torch.fft.fft(x) * torch.exp(-2j * torch.pi * k * t)).real

    torch.manual_seed(0)
    conv = torch.nn.Conv1d(1, 1, 5, padding=2, padding_mode="circular").double().eval()
    sym = Symmetry.custom(
        "T1",
        lambda n, gen: [0.0] * n,
        lambda g, x: x,
        lambda g, y: y,
        example=lambda b, gen: torch.randn(b, 1, 32, generator=gen, dtype=torch.float64),
        flows={"shift": (shift, shift)},
    )
    r = eqd.lie_derivative(conv, sym)
    assert r["shift"].lee < 1e-9
    assert any("custom symmetries declare actions on the model's input" in n for n in r.notes)


def test_audit_attaches_the_lie_derivative_and_round_trips():
    from tests.zoo import ZOO

    model, sym, x = ZOO["c4_cnn_torch"].build(0)
    report = eqd.audit(model, sym, x, lie_derivative=True)
    assert set(report.lie_derivative.generators) == set(IMAGE_GENERATORS)
    assert report.lie_derivative.padding == "reflection"
    assert eqd.AuditReport.model_validate_json(report.to_json()) == report
    assert "LIE DERIVATIVE" in report.to_text()
    assert eqd.audit(model, sym, x).lie_derivative is None  # finite group: off by default


def test_audit_takes_lie_derivative_options():
    from tests.zoo import ZOO

    model, sym, x = ZOO["c4_cnn_torch"].build(0)
    report = eqd.audit(
        model,
        sym,
        x,
        gradients=False,
        lie_derivative={"generators": ["rotate"], "padding": "zeros"},
    )
    assert set(report.lie_derivative.generators) == {"rotate"}
    assert report.lie_derivative.padding == "zeros"
    with pytest.raises(AuditError, match="lie_derivative: 'spin' is not an option"):
        eqd.audit(model, sym, x, lie_derivative={"spin": 1})


def test_continuous_groups_get_the_lie_derivative_by_default():
    model = _steerable("SO2", 0)
    report = eqd.audit(model, Symmetry.images("SO2", size=21), gradients=False, layerwise=False)
    assert report.lie_derivative is not None and report.lie_derivative["rotate"].lee >= 0


def test_unknown_generators_and_groups_without_flows_are_errors():
    with pytest.raises(AuditError, match="'spin' unknown"):
        eqd.lie_derivative(_cnn(), SYM, generators=["spin"])
    with pytest.raises(AuditError, match="no continuous generators"):
        eqd.lie_derivative(torch.nn.Identity(), Symmetry.vectors("D4", "regular", "regular"))
    with pytest.raises(AuditError, match="padding: 'wrap' unknown"):
        eqd.lie_derivative(_cnn(), SYM, padding="wrap")
    with pytest.raises(AuditError, match="normalization: 'l2' unknown"):
        eqd.lie_derivative(_cnn(), SYM, normalization="l2")
