"""SO2/O2 steerable CNNs: the spec's nonlinearity brings its fields and batch norm, and every
choice builds a model that audits PASS."""

from __future__ import annotations

import pytest

import equidesign as eqd
from equidesign.designer import plan_for

EXPECTED = {  # nonlinearity -> (escnn module, batch norm)
    "fourier": ("FourierELU", "IIDBatchNorm2d"),
    "norm": ("ELU | NormNonLinearity", "IIDBatchNorm2d | NormBatchNorm"),
    "gated": ("GatedNonLinearity1", "GNormBatchNorm"),
}


def _spec(group: str, nonlinearity: str | None, task: str = "classification") -> str:
    chosen = f"  nonlinearity: {nonlinearity}\n" if nonlinearity else ""
    output = (
        "output:\n  type: equivariant\n  representation: trivial\n"
        if task == "segmentation"
        else "output:\n  type: invariant\n"
    )
    return (
        f"name: m\ngroup: {group}\ndomain: image2d\ntask:\n  kind: {task}\n  classes: 2\n"
        f"input:\n  size: 13\n{output}constraints:\n  width: 2\n  depth: 2\n  kernel_size: 3\n"
        + chosen
    )


@pytest.mark.parametrize("group", ["SO2", "O2"])
@pytest.mark.parametrize("nonlinearity", [None, "fourier", "norm", "gated"])
def test_the_nonlinearity_brings_the_batch_norm_that_fits_its_fields(group, nonlinearity):
    plan = plan_for(_spec(group, nonlinearity))
    act, norm = EXPECTED[nonlinearity or "fourier"]
    assert [x.kind for x in plan.layers if x.role == "nonlinearity"] == [act, act]
    assert [x.kind for x in plan.layers if x.role == "norm"] == [norm, norm]
    assert plan.options["nonlinearity"] == (nonlinearity or "fourier")


def test_norm_fields_have_no_trivial_irrep_and_gated_fields_have_gates():
    norm = plan_for(_spec("O2", "norm"))
    assert norm.layers[2].out_repr == "2 x trivial + 2 x nontrivial_irreps(2)"
    fields = next(d for d in norm.decisions if d.topic == "hidden representation").choice
    assert fields.endswith("per field: irrep(1,0), irrep(1,1), irrep(1,2)")
    gated = plan_for(_spec("SO2", "gated"))
    conv, gate = gated.layers[0], gated.layers[2]
    assert conv.out_repr == gate.in_repr == "6 gates + 2 x irreps(2)"
    assert gate.out_repr == "2 x irreps(2)"


@pytest.mark.parametrize(
    ("group", "nonlinearity", "task"),
    [
        ("SO2", "norm", "classification"),
        ("O2", "gated", "classification"),
        ("O2", "norm", "segmentation"),
        ("SO2", "gated", "segmentation"),
    ],
)
def test_each_nonlinearity_builds_a_model_that_audits_pass(group, nonlinearity, task):
    design = eqd.design(_spec(group, nonlinearity, task))
    model = design.build()
    kinds = {type(m).__name__ for m in model.modules()}
    assert {k for kind in EXPECTED[nonlinearity] for k in kind.split(" | ")} <= kinds
    report = eqd.audit(model, design.symmetry, seed=0, gradients=False, lie_derivative=False)
    assert report.verdict == "PASS", report.to_text()
    assert report.findings == []


def test_output_frequencies_above_the_band_limit_are_refused():
    spec = _spec("SO2", None, "segmentation").replace("trivial\n", "irrep(3)\n")
    with pytest.raises(eqd.EquidesignError, match="irrep\\(3\\) has frequency 3"):
        plan_for(spec)


def test_gated_models_are_float32_only_and_a_float64_spec_is_refused_at_its_line(tmp_path):
    """escnn's GatedNonLinearity1 writes its output as float32 whatever its input: a float64
    gated model would raise in its forward (it did, with a traceback, before this check)."""
    assert "float32_only" in plan_for(_spec("SO2", "gated")).options
    assert "float32_only" not in plan_for(_spec("SO2", "norm")).options
    path = tmp_path / "spec.yaml"
    path.write_text(_spec("SO2", "gated") + "  dtype: float64\n")
    with pytest.raises(eqd.EquidesignError) as info:
        eqd.design(path)
    assert str(info.value) == (
        f"{path}:16:10: constraints.dtype: 'float64' with nonlinearity 'gated': escnn's "
        "GatedNonLinearity1 builds its output as float32 whatever its input, so the model "
        "cannot run in float64; use dtype float32, or nonlinearity fourier or norm"
    )
    eqd.design(_spec("SO2", "norm") + "  dtype: float64\n").build()  # the others can
