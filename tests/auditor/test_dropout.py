"""The gradient test's dropout mode: dropout on, every copy ``g·x`` with the same masks as
``x`` (one pass per copy under a fixed seed). Reported apart, with a Low finding when the masks
do not move with the input; never counted in the verdict."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd
from equidesign.auditor.gradient import DROPOUT_SEED
from tests.zoo.graphs import build_gin


class Total(torch.nn.Module):
    """Sum over the features: invariant under any permutation of them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(-1, keepdim=True)


def _mode(report, name):
    return next((m for m in report.gradient.modes if m.mode == name), None)


def test_masks_on_permuted_features_do_not_move_and_the_audit_says_so_without_failing():
    sym = eqd.Symmetry.vectors("C4", "regular", "invariant")
    model = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Dropout(0.3), Total()).eval()
    rng = torch.random.get_rng_state()
    report = eqd.audit(model, sym)
    assert torch.equal(torch.random.get_rng_state(), rng)  # the fixed seed does not leak
    assert not model.training and not model[1].training  # modes restored
    mode = _mode(report, "dropout")
    assert mode is not None and mode.checked and not mode.passed and mode.max_rel > 0.1
    assert f"seed {DROPOUT_SEED}" in mode.note and "only in distribution" in mode.note
    # not counted: the eval-mode gradients and the verdict are those of the function
    assert report.verdict == "PASS" and report.gradient.passed
    assert report.gradient.max_rel < 1e-4
    (finding,) = report.findings
    assert (finding.kind, finding.severity, finding.location) == ("gradient", "Low", "1")
    assert "dropout" in report.to_text() and "dropout" in report.to_markdown()
    again = eqd.AuditReport.model_validate_json(report.to_json())
    assert _mode(again, "dropout") == mode


def test_masks_constant_over_what_the_group_moves_keep_each_step_equivariant():
    sym = eqd.Symmetry.vectors("C4", "regular", "invariant")
    model = torch.nn.Sequential(torch.nn.Tanh(), Total(), torch.nn.Dropout(0.3))
    report = eqd.audit(model, sym)
    mode = _mode(report, "dropout")
    assert mode.passed and mode.max_rel < 1e-5 and not report.findings


def test_escnn_dropout_on_images_runs_per_copy():
    from escnn import gspaces
    from escnn import nn as enn

    r2 = gspaces.rot2dOnR2(4)
    t_in = enn.FieldType(r2, [r2.trivial_repr])
    hidden = enn.FieldType(r2, [r2.regular_repr] * 2)
    torch.manual_seed(0)
    model = enn.SequentialModule(
        enn.R2Conv(t_in, hidden, 3, padding=1),
        enn.PointwiseDropout(hidden, p=0.3),  # a mask per pixel and channel
        enn.GroupPooling(hidden),
    ).eval()
    report = eqd.audit(model, eqd.Symmetry.images("C4", "trivial", "2 x trivial", size=9))
    mode = _mode(report, "dropout")
    assert mode.checked and not mode.passed and report.verdict == "PASS"


def test_graph_models_with_node_dropout_get_the_mode_too():
    class DropNodes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = torch.nn.Dropout(0.3)

        def forward(self, x, batch):
            return self.drop(x)

    model, sym, x = build_gin(0, pe=DropNodes())
    report = eqd.audit(model, sym, x)
    mode = _mode(report, "dropout")
    assert mode.checked and not mode.passed  # per-node masks stay while the nodes move
    assert report.verdict == "PASS"
    assert any(f.location == "pe.drop" and f.severity == "Low" for f in report.findings)


@pytest.mark.parametrize("p", [0.0, None])
def test_no_dropout_mode_without_dropout_that_drops(p):
    sym = eqd.Symmetry.vectors("C4", "regular", "invariant")
    layers = [torch.nn.Tanh(), Total()] + ([torch.nn.Dropout(p)] if p is not None else [])
    report = eqd.audit(torch.nn.Sequential(*layers), sym)
    assert _mode(report, "dropout") is None


def test_graph_level_dropout_after_pooling_keeps_each_step_invariant():
    """One mask per graph: relabelling the nodes leaves it alone, so the mode passes (which
    also shows the per-node failure above is about the masks, not the harness)."""

    class DropThenHead(torch.nn.Module):
        def __init__(self, head):
            super().__init__()
            self.drop, self.head = torch.nn.Dropout(0.3), head

        def forward(self, h):
            return self.head(self.drop(h))

    model, sym, x = build_gin(0)
    model.head = DropThenHead(model.head)
    report = eqd.audit(model, sym, x)
    mode = _mode(report, "dropout")
    assert mode.checked and mode.passed and not report.findings
