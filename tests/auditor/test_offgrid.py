"""Elements off the pixel grid (45° rotations of C8, Haar samples of SO(2)) are judged against
the interpolation error of the input itself (rotate and rotate back). The judgement must be able
to fail -- a dense model equivariant only to the quarter turns does not pass as C8 -- and must
not fail escnn's C8 models, whose own 45° error is of the interpolation's size."""

from __future__ import annotations

import torch

import equidesign as eqd
from equidesign._libs import escnn_gspaces, escnn_nn
from equidesign.auditor.levels import INTERPOLATION_RATIO_PASS
from equidesign.symmetry import Symmetry
from tests.zoo import ZOO


class DenseCNN(torch.nn.Module):
    """Three 5x5 R2Convs between regular fields of C_n, a scalar field out: (B, 1, H, W)."""

    def __init__(self, n: int):
        super().__init__()
        enn, gspace = escnn_nn(), escnn_gspaces().rot2dOnR2(n)
        self.field = enn.FieldType(gspace, [gspace.trivial_repr])
        hidden = enn.FieldType(gspace, [gspace.regular_repr] * 4)
        self.net = enn.SequentialModule(
            enn.R2Conv(self.field, hidden, 5, padding=2),
            enn.ReLU(hidden),
            enn.R2Conv(hidden, hidden, 5, padding=2),
            enn.ReLU(hidden),
            enn.R2Conv(hidden, self.field, 5, padding=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(escnn_nn().GeometricTensor(x, self.field)).tensor


def _dense_audit(n: int):
    torch.manual_seed(0)
    symmetry = Symmetry.images("C8", "trivial", "trivial", size=29)
    return eqd.audit(DenseCNN(n).eval(), symmetry, layerwise=False, gradients=False)


def test_quarter_turn_model_does_not_pass_off_the_grid():
    report = _dense_audit(4)
    interpolated = report.end_to_end.interpolated
    assert report.end_to_end.passed  # exact at the quarter turns
    assert interpolated.ratio > INTERPOLATION_RATIO_PASS and not interpolated.passed
    assert report.verdict != "PASS"
    assert "interpolation" in {f.kind for f in report.findings}


def test_c8_model_passes_off_the_grid():
    report = _dense_audit(8)
    interpolated = report.end_to_end.interpolated
    assert report.verdict == "PASS" and interpolated.n_elements == 4
    assert interpolated.ratio < INTERPOLATION_RATIO_PASS / 2  # well below the threshold


def test_c8_model_with_invariant_output_passes_off_the_grid():
    model, sym, x = ZOO["c8_cnn_escnn"].build(0)
    report = eqd.audit(model, sym, x, layerwise=False, gradients=False)
    interpolated = report.end_to_end.interpolated
    assert interpolated.passed and interpolated.ratio < INTERPOLATION_RATIO_PASS / 2


def test_continuous_group_tested_on_its_grid_subgroup_only_is_reported_as_such():
    torch.manual_seed(0)
    model = DenseCNN(8).eval()
    sym = Symmetry.images("SO2", "trivial", "trivial", size=29, n_random=0)  # quarter turns
    report = eqd.audit(model, sym, lie_derivative=False)
    assert report.settings.subgroup_only
    assert report.verdict == "NEEDS_ATTENTION"
    finding = report.findings_of("untested")[0]
    assert "finite subgroup only" in finding.title and finding.location == "symmetry"
    sampled = eqd.audit(
        model, Symmetry.images("SO2", "trivial", "trivial", size=29), lie_derivative=False
    )
    assert not sampled.settings.subgroup_only and not sampled.findings_of("untested")
