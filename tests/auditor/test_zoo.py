"""Every auditor check can fail: the planted-fault zoo is caught, localised and named."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd
from equidesign.symmetry import Symmetry
from tests.zoo import ZOO

from .models import DeepSets

#: informational findings a failing audit with a Lie derivative carries beside the fault
#: (where the Lie derivative comes from); a passing audit of a correct model carries none
INFORMATIONAL = {"lie_attribution"}


def _consequence(entry, report, finding) -> bool:
    """A fault that breaks the exact elements (quarter turns) of a continuous group breaks the
    interpolated ones too: the audit may say so beside the fault it names."""
    return (
        (finding.kind, finding.location) == ("interpolation", "model")
        and report.end_to_end.interpolated is not None
        and not report.end_to_end.passed
        and entry.fault_layer is not None
    )


@pytest.fixture(scope="module")
def reports():
    out = {}
    for name, entry in ZOO.items():
        model, sym, x = entry.build(0)
        out[name] = eqd.audit(model, sym, x)
    return out


@pytest.mark.parametrize("name", sorted(ZOO))
def test_verdict_matches_the_planted_fault(reports, name):
    report = reports[name]
    assert report.verdict == ZOO[name].expected_verdict, report.to_text()


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if e.correct))
def test_correct_models_pass_with_no_findings_and_tiny_errors(reports, name):
    report = reports[name]
    assert report.findings == []
    assert report.end_to_end.max_rel <= ZOO[name].exact
    assert all(layer.passed for layer in report.layers)


@pytest.mark.parametrize("name", sorted(n for n, e in ZOO.items() if not e.correct))
def test_the_fault_is_named_by_kind_and_location(reports, name):
    entry, report = ZOO[name], reports[name]
    kinds = {(f.kind, f.location) for f in report.findings}
    expected_location = "output" if entry.fault_layer is None else entry.fault_layer
    assert (entry.finding_kind, expected_location) in kinds, report.to_text()
    named = {
        f.kind
        for f in report.findings
        if f.kind not in INFORMATIONAL and not _consequence(entry, report, f)
    }
    assert named == {entry.finding_kind}, report.to_text()


@pytest.mark.parametrize(
    "name", sorted(n for n, e in ZOO.items() if not e.correct and e.fault_layer is not None)
)
def test_first_failing_layer_is_the_planted_one(reports, name):
    report, entry = reports[name], ZOO[name]
    if entry.finding_kind == "precision":  # float64 shows the layer is fine: nothing fails
        assert report.first_failing_layer is None
    else:
        assert report.first_failing_layer == entry.fault_layer


def test_hidden_breakage_is_explained(reports):
    finding = reports["relu_hidden_by_head"].findings[0]
    assert "later layer discards" in finding.evidence


def test_nonlinearity_finding_names_the_representation_and_the_fix(reports):
    finding = reports["relu_on_irreps"].findings[0]
    assert "irrep" in finding.title and "not a permutation representation" in finding.title
    assert "Gate" in finding.fix or "NormNonLinearity" in finding.fix


def test_parity_finding_says_which_size_works(reports):
    finding = reports["wrong_parity_stride"].findings[0]
    assert "on size 28" in finding.title and "size 29 works" in finding.title


def test_output_type_finding_names_the_fitting_action(reports):
    finding = reports["wrong_output_type"].findings[0]
    assert "regular representation" in finding.title


def test_precision_finding_comes_from_the_float64_rerun(reports):
    report = reports["precision_cancellation"]
    assert report.end_to_end.float64 is not None
    assert report.end_to_end.float64.cause == "precision"


def test_gradient_fault_fails_only_the_gradient_test(reports):
    report = reports["gradient_only"]
    assert report.end_to_end.passed and all(layer.passed for layer in report.layers)
    assert not report.gradient.passed


def test_off_grid_elements_are_reported_apart_and_not_failed(reports):
    e2e = reports["c8_cnn_escnn"].end_to_end
    assert e2e.interpolated is not None and e2e.interpolated.passed
    assert e2e.interpolated.n_elements == 4 and e2e.max_rel <= 1e-5


def test_set_readout_in_the_models_own_forward_is_named_at_the_root():
    """``h[:, 0]`` written in forward, between phi and rho: no layer to name but the root's."""
    torch.manual_seed(0)
    report = eqd.audit(DeepSets(first=True).eval(), Symmetry.sets("invariant", size=5, channels=3))
    assert report.verdict == "FAIL" and report.first_failing_layer == ""
    assert [(f.kind, f.location) for f in report.findings] == [("custom_layer", "")]
    assert all(layer.passed for layer in report.layers)


def test_set_tensors_are_typed_by_shape(reports):
    """Nothing declared: per-element layers, the pooling and the readout are all tested."""
    tested = {layer.name for layer in reports["first_element_readout"].layers}
    assert {"phi.0.0", "phi.1", "readout"} <= tested
    equivariant = reports["set_layers_equivariant"]
    assert {"first", "pe", "second"} <= {layer.name for layer in equivariant.layers}
    assert equivariant.untested == []


def test_a_global_node_index_is_localised_and_its_batch_dependence_named():
    """torch.arange over the whole batch: the encoding is found at pe, and the batch check says
    why a copy differs inside the batch (its nodes come after the originals'); the verdict
    comes from element-by-element passes, where the identity's copy is x again."""
    from tests.zoo.graphs import GlobalNodeIndex, build_gin

    report = eqd.audit(*build_gin(0, pe=GlobalNodeIndex()))
    assert report.verdict == "FAIL" and report.first_failing_layer == "pe"
    assert ("custom_layer", "pe") in {(f.kind, f.location) for f in report.findings}
    batch = next(c for c in report.self_checks if c.name == "batch")
    assert not batch.passed and "element-by-element" in batch.detail
    assert ("batch_dependence", "model") in {(f.kind, f.location) for f in report.findings}
    identity = next(c for c in report.self_checks if c.name == "identity")
    assert identity.passed


def test_graph_tensors_are_typed_by_row_count(reports):
    """Nothing declared: the encoder, each GIN convolution and the pooling are tested."""
    tested = {layer.name for layer in reports["gin_graph_level"].layers}
    assert {"encoder", "convs.0", "convs.1", "pool"} <= tested
    assert reports["gin_graph_level"].untested == []


#: the elements each grid carries exactly (identity included): quarter turns, cube rotations
GRID_EXACT = {"so2": 4, "voxels": 24}


def _family(name: str) -> str:
    return ZOO[name].build.__module__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("name", sorted(n for n in ZOO if _family(n) in GRID_EXACT))
def test_continuous_groups_test_the_grid_exact_subgroup_strictly(reports, name):
    """SO(2) and SO(3) on grids: quarter turns / the cube's rotations are exact elements, judged
    against float precision; Haar-random angles are reported apart, against interpolation."""
    e2e = reports[name].end_to_end
    assert e2e.interpolated is not None and e2e.interpolated.n_elements >= 1
    assert sum(e.exact for e in e2e.per_element) == GRID_EXACT[_family(name)]
    if ZOO[name].correct:
        assert e2e.interpolated.passed
    else:  # the fault breaks the exact elements: caught without help from interpolation
        assert not e2e.passed and e2e.max_rel > 1e-2
