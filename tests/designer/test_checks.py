"""Every static check repairs a plan that violates it (recording why) or refuses it."""

from __future__ import annotations

import pytest

from equidesign.designer import plan_for
from equidesign.designer.checks import (
    check_kernels,
    check_nonlinearities,
    check_parity,
    check_permutation_layers,
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


# ------------------------------------------------------------------ repaired plans build and pass
def _planted(spec_text: str, plant) -> tuple:
    """The expanded plan of a spec with a fault planted by ``plant(plan)``, before the checks."""
    from equidesign.designer._design import EXPANSIONS
    from equidesign.designer.rules import select_rule
    from equidesign.spec import load_spec

    spec = load_spec(spec_text)
    rule = select_rule(spec.group_info, spec.domain, spec.task.kind)
    plan = EXPANSIONS[rule.template](spec, rule)
    plant(plan)
    return spec, plan


def _repaired_design_audits_pass(spec, plan) -> None:
    import equidesign as eqd
    from equidesign.designer import Design
    from equidesign.designer._design import _render

    run_checks(plan, spec.group_info)
    design = Design(spec, plan, _render(spec, plan))
    model = design.build()
    model(design.example_input(2))
    report = eqd.audit(model, design.symmetry, seed=0, gradients=False)
    assert report.verdict == "PASS", report.to_text()


_SMALL = _spec(size=15, width=2, depth=2).replace("depth: 2\n", "depth: 2\n  kernel_size: 3\n")


def _irrep_fields(plan) -> None:
    """Hidden fields of irreps: C4's irrep(1) and trivial fields, which it does not permute."""
    for layer in plan.layers:
        for attr in ("in_repr", "out_repr"):
            if getattr(layer, attr) == "2 x regular":
                setattr(layer, attr, "2 x irrep(1) + 2 x trivial")


@pytest.mark.parametrize("kind", ["Linear", "BatchNorm1d"])
def test_plain_vector_layers_over_image_fields_are_refused(kind):
    spec, plan = _planted(_SMALL, lambda p: setattr(p.layers[1], "kind", kind))
    with pytest.raises(DesignError, match=f"plain {kind} over \\[2 x regular\\] breaks"):
        run_checks(plan, spec.group_info)


def test_batchnorm_on_non_regular_fields_becomes_iid_and_the_model_passes():
    def plant(plan):
        _irrep_fields(plan)
        plan.layers[1].kind = "BatchNorm2d"

    spec, plan = _planted(_SMALL, plant)
    adjustments = check_plain_layers(plan, spec.group_info)
    assert plan.layers[1].kind == "IIDBatchNorm2d" and adjustments[0].check == "plain layers"
    _repaired_design_audits_pass(spec, plan)
    # the other layers that need permutation fields are repaired too
    assert plan.layers[5].kind == "IIDBatchNorm2d"
    assert {a.check for a in plan.adjustments} == {"nonlinearities", "permutation layers"}


def test_plain_conv_becomes_r2conv_and_the_model_passes():
    spec, plan = _planted(_SMALL, lambda p: setattr(p.layers[0], "kind", "Conv2d"))
    run_checks(plan, spec.group_info)
    assert plan.layers[0].kind == "R2Conv"
    assert plan.adjustments[0].what == "features.0: Conv2d -> R2Conv"
    _repaired_design_audits_pass(spec, plan)


def test_group_pooling_on_non_regular_fields_becomes_norm_pooling():
    spec, plan = _planted(_SMALL, _irrep_fields)
    run_checks(plan, spec.group_info)
    pool = plan.layer("group_pool")
    assert pool.kind == "NormPool"
    assert any(a.check == "permutation layers" and "irrep(1)" in a.why for a in plan.adjustments)
    assert all(x.kind == "NormNonLinearity" for x in plan.layers if x.role == "nonlinearity")
    _repaired_design_audits_pass(spec, plan)


def test_pointwise_max_pooling_is_kept_on_regular_fields_and_replaced_on_irreps():
    def max_pool(plan):
        pool = plan.layers[3]
        pool.kind, pool.kernel_size, pool.padding, pool.sigma = "PointwiseMaxPool2D", 3, 1, None

    spec, plan = _planted(_SMALL, max_pool)
    assert (
        check_permutation_layers(plan, spec.group_info) == []
    )  # regular fields: the group permutes them

    def on_irreps(plan):
        max_pool(plan)
        _irrep_fields(plan)

    spec, plan = _planted(_SMALL, on_irreps)
    run_checks(plan, spec.group_info)
    assert plan.layers[3].kind == "NormMaxPool"
    _repaired_design_audits_pass(spec, plan)


def test_a_2x2_pool_on_an_odd_size_becomes_an_odd_window_and_the_model_passes():
    def plant(plan):
        pool = plan.layers[3]
        pool.kind, pool.kernel_size, pool.padding, pool.sigma = "PointwiseAvgPool2D", 2, 0, None

    spec, plan = _planted(_SMALL, plant)
    run_checks(plan, spec.group_info)
    pool = plan.layers[3]
    assert (pool.kind, pool.kernel_size, pool.in_size, pool.out_size) == (
        "PointwiseAvgPoolAntialiased2D",
        5,
        [15, 15],
        [8, 8],
    )
    assert "size 15" in plan.adjustments[0].what
    _repaired_design_audits_pass(spec, plan)


def test_a_3x3_stride_3_pool_on_a_size_it_does_not_divide_is_repaired_or_refused():
    def plant(plan):
        pool = plan.layers[3]
        pool.kind, pool.kernel_size, pool.stride, pool.padding, pool.sigma = (
            "PointwiseAvgPool2D",
            3,
            3,
            0,
            None,
        )

    # size 16: 3 does not divide it, but an odd window centred on every third pixel fits
    spec, plan = _planted(_SMALL.replace("size: 15", "size: 16"), plant)
    run_checks(plan, spec.group_info)
    pool = plan.layers[3]
    assert (pool.kind, pool.stride, pool.out_size) == ("PointwiseAvgPoolAntialiased2D", 3, [6, 6])
    _repaired_design_audits_pass(spec, plan)
    # size 15 is divisible by 3: the windows tile the grid and nothing changes
    spec, plan = _planted(_SMALL, plant)
    assert check_parity(plan, spec.group_info) == []
    # size 17: neither fits; the size to use is named
    spec, plan = _planted(_SMALL.replace("size: 15", "size: 17"), plant)
    with pytest.raises(DesignError, match="size 17 is not centred.*use an input size"):
        check_parity(plan, spec.group_info)
