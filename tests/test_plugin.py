"""The pytest plugin: a fixture for a project's tests, and audits of every spec in a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _pytest(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "equidesign", "-q", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_every_spec_in_a_folder_becomes_a_passing_test(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("d4_vector_regression.yaml", "c3_vector_mixed_irreps.yaml"):
        shutil.copy(ROOT / "specs" / name, specs / name)
    out = _pytest(["--equidesign-specs", str(specs)], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout


def test_a_regression_against_a_stored_baseline_fails_the_spec(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(ROOT / "specs" / "d4_vector_regression.yaml", specs / "model.yaml")
    # a stored baseline, and a conftest that plants a fault in what the spec builds
    import equidesign as eqd

    design = eqd.design(specs / "model.yaml")
    (specs / "model.audit.json").write_text(eqd.audit(design.build(), design.symmetry).to_json())
    (tmp_path / "conftest.py").write_text(
        "import torch\n"
        "from equidesign.designer import Design\n"
        "_build = Design.build\n"
        "def build(self, seed=None):\n"
        "    model = _build(self, seed)\n"
        "    model.layers[0] = torch.nn.Linear(16, model.layers[0].out_rep.size)\n"
        "    return model\n"
        "Design.build = build\n"
    )
    out = _pytest(["--equidesign-specs", str(specs)], tmp_path)
    assert out.returncode == 1
    assert "regressed against model.audit.json" in out.stdout


def test_the_assert_equivariant_fixture(tmp_path):
    (tmp_path / "test_mine.py").write_text(
        "import torch, pytest\n"
        "from equidesign.symmetry import Symmetry\n"
        "class Norm(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x.pow(2).sum(-1, keepdim=True)\n"
        "def test_ok(assert_equivariant):\n"
        "    sym = Symmetry.vectors('C4', 'regular', 'invariant')\n"
        "    reports = assert_equivariant(Norm(), sym)\n"
        "    assert [r.settings.dtype for r in reports] == ['float32', 'float64']\n"
        "def test_broken(assert_equivariant):\n"
        "    sym = Symmetry.vectors('C4', 'regular', 'invariant')\n"
        "    torch.manual_seed(0)\n"
        "    assert_equivariant(torch.nn.Linear(4, 3), sym)\n"
    )
    out = _pytest([], tmp_path)
    assert "1 failed, 1 passed" in out.stdout
    assert "is not equivariant in float32" in out.stdout
