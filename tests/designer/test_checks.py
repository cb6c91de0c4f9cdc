"""Every static check repairs a plan that violates it (recording why) or refuses it."""

from __future__ import annotations

import pytest

from equidesign.designer import plan_for
from equidesign.designer.checks import (
    check_kernels,
    check_nonlinearities,
    check_parity,
    check_plain_layers,
    run_checks,
)
from equidesign.errors import DesignError
from equidesign.groups import parse_group


def _spec(size=29, group="C4", width=2, depth=3, domain="image2d"):
    if domain == "vector":
        return (
            f"name: v\ngroup: {group}\ndomain: vector\ntask:\n  kind: regression\n"
            "input:\n  representation: regular\noutput:\n  type: invariant\n"
            f"constraints:\n  width: {width}\n  depth: {depth}\n"
        )
    return (
        f"name: m\ngroup: {group}\ndomain: image2d\ntask:\n  kind: classification\n  classes: 3\n"
        f"input:\n  size: {size}\noutput:\n  type: invariant\n"
        f"constraints:\n  width: {width}\n  depth: {depth}\n"
    )


def test_parity_repairs_an_even_size_with_a_2x2_pool_and_says_why():
    plan = plan_for(_spec(size=28))
    pools = [layer for layer in plan.layers if layer.role == "downsample"]
    assert [p.kind for p in pools] == ["PointwiseAvgPool2D", "PointwiseAvgPool2D"]
    assert [p.in_size[0] for p in pools] == [28, 14]
    assert any(a.check == "parity" and "size 28" in a.what for a in plan.adjustments)


def test_parity_keeps_odd_windows_on_odd_sizes():
    plan = plan_for(_spec(size=29))
    pools = [layer for layer in plan.layers if layer.role == "downsample"]
    assert [p.kind for p in pools] == ["PointwiseAvgPoolAntialiased2D"] * 2
    assert [p.in_size[0] for p in pools] == [29, 15]
    assert plan.adjustments == []


def test_parity_refuses_a_strided_convolution_it_cannot_fix():
    plan = plan_for(_spec(size=29))
    conv = plan.layers[0]
    conv.stride = 2  # a stride-2, 5x5, padding-2 conv needs an odd size; make the size even
    plan.input_size = [28, 28]
    with pytest.raises(DesignError, match="size 28 is not centred.*use an input size"):
        check_parity(plan, parse_group("C4"))


def test_even_kernels_are_made_odd():
    plan = plan_for(_spec())
    plan.layers[0].kernel_size, plan.layers[0].padding = 4, 2
    adjustments = check_kernels(plan, parse_group("C4"))
    assert plan.layers[0].kernel_size == 5 and plan.layers[0].padding == 2
    assert "no centre pixel" in adjustments[0].why


def test_plain_batchnorm_over_regular_fields_becomes_inner_batchnorm():
    plan = plan_for(_spec())
    plan.layers[1].kind = "BatchNorm2d"
    adjustments = check_plain_layers(plan, parse_group("C4"))
    assert plan.layers[1].kind == "InnerBatchNorm" and adjustments[0].check == "plain layers"


def test_plain_linear_over_a_representation_becomes_elinear():
    plan = plan_for(_spec(group="D4", domain="vector"))
    plan.layers[0].kind = "Linear"
    check_plain_layers(plan, parse_group("D4"))
    assert plan.layers[0].kind == "eLinear"


def test_pointwise_nonlinearity_on_irreps_becomes_a_norm_nonlinearity_on_images():
    plan = plan_for(_spec(group="C8"))
    relu = next(layer for layer in plan.layers if layer.kind == "ReLU")
    relu.in_repr = relu.out_repr = "4 x irrep(1)"
    adjustments = check_nonlinearities(plan, parse_group("C8"))
    assert (
        relu.kind == "NormNonLinearity" and "not permutation representations" in adjustments[0].why
    )


def test_pointwise_nonlinearity_on_irreps_is_refused_on_vectors():
    plan = plan_for(_spec(group="C8", domain="vector"))
    relu = next(layer for layer in plan.layers if layer.kind == "ReLU")
    relu.in_repr = "4 x irrep(1)"
    with pytest.raises(DesignError, match="not permutation representations"):
        check_nonlinearities(plan, parse_group("C8"))


def test_pointwise_nonlinearity_on_regular_fields_passes():
    plan = plan_for(_spec())
    assert check_nonlinearities(plan, parse_group("C4")) == []


def test_run_checks_records_every_adjustment():
    plan = plan_for(_spec(size=28))
    plan.layers[0].kernel_size = 4
    run_checks(plan, parse_group("C4"))
    assert {a.check for a in plan.adjustments} >= {"kernels", "parity"}
