"""Train-mode gradients of deep batch-normalised stacks amplify the round-off every layer has;
the audit measures that (a round-off-sized input perturbation) before it blames the structure,
and still fails a real train-mode gradient fault."""

from __future__ import annotations

import torch

import equidesign as eqd
from equidesign.auditor.gradient import SENSITIVITY_FACTOR

DEEP = """name: deep
group: C4
domain: image2d
task:
  kind: classification
  classes: 3
input:
  representation: trivial
  size: 13
output:
  type: invariant
constraints:
  width: 2
  depth: 40
  kernel_size: 3
"""


def _train(report):
    return next(m for m in report.gradient.modes if m.mode == "train")


def test_a_deep_batch_normalised_cnn_amplifies_round_off_and_needs_attention_not_a_fail():
    design = eqd.design(DEEP)
    report = eqd.audit(design.build(), design.symmetry)
    train = _train(report)
    assert not train.passed and train.sensitivity is not None
    assert SENSITIVITY_FACTOR * train.sensitivity >= train.max_rel
    assert report.gradient.level.value == "approximate" and report.verdict == "NEEDS_ATTENTION"
    assert [f.kind for f in report.findings] == ["precision"]
    assert "amplify round-off" in report.findings[0].title
    assert "amplified round-off" in train.note


class _MaskedGradient(torch.autograd.Function):
    """Identity forward; the backward keeps the first half of the features only."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        mask = torch.zeros_like(g)
        mask[:, : g.shape[1] // 2] = 1.0
        return g * mask


class TrainOnlyBadBackward(torch.nn.Module):
    """Invariant (a sum over a permutation representation, batch-normalised); in train mode a
    custom Function whose backward breaks the gradients' equivariance."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(1)

    def forward(self, x):
        if self.training:
            x = _MaskedGradient.apply(x)
        return torch.tanh(self.norm(torch.tanh(x).sum(1, keepdim=True)))


def test_a_train_mode_gradient_fault_is_not_excused_as_round_off():
    model = TrainOnlyBadBackward().eval()
    report = eqd.audit(model, eqd.Symmetry.vectors("C4", "regular", "invariant"))
    train = _train(report)
    assert train.sensitivity is not None and train.sensitivity < 1e-4
    assert not eqd.auditor.gradient.amplified_round_off(train)
    assert report.verdict == "FAIL" and report.gradient.level.value == "broken"
    assert any(f.kind == "gradient" and f.severity == "High" for f in report.findings)


class InvariantNormHead(torch.nn.Module):
    """Two invariant features of a permutation representation, batch-normalised."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(2)

    def forward(self, x):
        t = torch.tanh(x)
        return torch.tanh(self.norm(torch.stack([t.sum(1), (t**2).sum(1)], 1)))


def test_batch_statistics_of_invariant_features_are_not_degenerate_in_train_mode():
    """The train-mode batch holds the orbits of three inputs: over two, batch normalisation of
    invariant features maps both values to +-1 and the gradients are round-off."""
    report = eqd.audit(
        InvariantNormHead().eval(), eqd.Symmetry.vectors("C4", "regular", "invariant")
    )
    train = _train(report)
    assert train.max_rel < 1e-4 and "3 inputs" in train.note
    assert report.verdict == "PASS" and not report.findings
