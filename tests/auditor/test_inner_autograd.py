"""Models that call torch.autograd.grad in forward (force fields), as ``torch.autograd.grad`` or
imported by name: during an audit their outputs stay differentiable; afterwards torch is as it
was."""

from __future__ import annotations

import importlib.util
import sys

import torch
from torch_geometric.data import Batch, Data

import equidesign as eqd

SOURCE = '''
import torch
from torch.autograd import grad


class PairForces(torch.nn.Module):
    """Forces of a pair potential, -dE/dpos, by autograd inside forward (no create_graph)."""

    def __init__(self, by_name):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.7))
        self.by_name = by_name

    def forward(self, batch):
        pos = batch.pos if batch.pos.requires_grad else batch.pos.requires_grad_(True)
        same = batch.batch[:, None] == batch.batch[None, :]
        d = (pos[:, None] - pos[None]).pow(2).sum(-1) + torch.eye(len(pos))
        energy = (self.scale * torch.exp(-d) * same).sum()
        fn = grad if self.by_name else torch.autograd.grad
        (g,) = fn(energy, pos, create_graph=False)
        return -g
'''


def _user_module(tmp_path):
    path = tmp_path / "user_forces.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location("user_forces", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["user_forces"] = module
    spec.loader.exec_module(module)
    return module


def _clouds():
    gen = torch.Generator().manual_seed(0)
    return Batch.from_data_list([Data(pos=torch.randn(5, 3, generator=gen)) for _ in range(2)])


def test_forces_computed_inside_forward_are_audited(tmp_path):
    module = _user_module(tmp_path)
    original = torch.autograd.grad
    try:
        for by_name in (False, True):
            model = module.PairForces(by_name)
            sym = eqd.Symmetry.point_clouds(None, "1o", group="E3 x Sn", node_level=True)
            report = eqd.audit(model, sym, inputs=_clouds())
            assert report.verdict == "PASS", (by_name, report.to_text())
            assert report.gradient is not None and report.gradient.passed
            assert report.lie_derivative is not None
            # audits without input gradients still run the model's own backward
            quick = eqd.audit(model, sym, inputs=_clouds(), gradients=False, lie_derivative=False)
            assert quick.verdict == "PASS"
    finally:
        sys.modules.pop("user_forces", None)
    assert torch.autograd.grad is original
    assert module.grad is original
