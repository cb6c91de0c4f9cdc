"""The pytest plugin: a fixture for a project's tests, spec audits collected from a folder (by
option or by marker), baselines per dtype, compared or updated."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
SPECS = ("d4_vector_regression.yaml", "c3_vector_mixed_irreps.yaml")

# a conftest that plants a fault in what every spec builds: a plain Linear as the first layer
PLANTED = (
    "import torch\n"
    "from equidesign.designer import Design\n"
    "_build = Design.build\n"
    "def build(self, seed=None):\n"
    "    model = _build(self, seed)\n"
    "    torch.manual_seed(1)\n"
    "    model.layers[0] = torch.nn.Linear(16, model.layers[0].out_rep.size)\n"
    "    return model\n"
    "Design.build = build\n"
)


def _pytest(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "equidesign", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def _project(tmp_path, names=SPECS):
    """A project: specs/ with example specs, and a test of its own in tests/."""
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in names:
        shutil.copy(ROOT / "specs" / name, specs / name)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_own.py").write_text("def test_own():\n    pass\n")
    return specs


def test_the_specs_folder_is_collected_as_real_items(tmp_path):
    specs = _project(tmp_path)
    listed = _pytest(["--equidesign-specs", "specs", "--collect-only"], tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    items = [line for line in listed.stdout.splitlines() if "::" in line]
    # no path given: the spec audits alone, as items pytest counts
    assert items == [f"specs/{name}::audit" for name in sorted(SPECS)]
    assert "2 tests collected" in listed.stdout
    # a path given (the folder itself, or the project with -m): still real items
    out = _pytest(["--equidesign-specs", "specs", str(specs)], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout
    marked = _pytest(
        ["--equidesign-specs", "specs", ".", "-m", "equidesign_spec", "--co"], tmp_path
    )
    assert "2/3 tests collected (1 deselected)" in marked.stdout, marked.stdout
    both = _pytest(["--equidesign-specs", "specs", "tests", "--co"], tmp_path)
    assert "3 tests collected" in both.stdout, both.stdout


def test_baselines_are_written_per_dtype_and_a_regression_fails_the_spec(tmp_path):
    specs = _project(tmp_path, SPECS[:1])
    stem = Path(SPECS[0]).stem
    update = _pytest(["--equidesign-specs", "specs", "--equidesign-update-baselines"], tmp_path)
    assert update.returncode == 0, update.stdout + update.stderr
    dtypes = {
        d: json.loads((specs / name).read_text())["settings"]["dtype"]
        for d, name in (("32", f"{stem}.audit.json"), ("64", f"{stem}.audit.float64.json"))
    }
    assert dtypes == {"32": "float32", "64": "float64"}
    assert _pytest(["--equidesign-specs", "specs"], tmp_path).returncode == 0  # unchanged
    (tmp_path / "conftest.py").write_text(PLANTED)
    out = _pytest(["--equidesign-specs", "specs"], tmp_path)
    assert out.returncode == 1
    assert f"the float32 audit regressed against {stem}.audit.json" in out.stdout
    assert f"the float64 audit regressed against {stem}.audit.float64.json" in out.stdout


def test_the_marker_runs_a_test_once_per_spec_and_audits_it(tmp_path):
    _project(tmp_path)
    (tmp_path / "tests" / "test_specs.py").write_text(
        "import pytest\n"
        "@pytest.mark.equidesign_specs('specs')\n"
        "def test_generated_models(equidesign_spec):\n"
        "    pass  # the plugin audits the spec after the body\n"
        "@pytest.mark.equidesign_specs('specs')\n"
        "def test_reports(equidesign_spec):\n"
        "    reports = equidesign_spec.check()\n"
        "    assert [r.settings.dtype for r in reports] == ['float32', 'float64']\n"
    )
    out = _pytest(["tests/test_specs.py", "-rA"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"PASSED tests/test_specs.py::test_generated_models[{SPECS[1]}]" in out.stdout
    assert "4 passed" in out.stdout
    (tmp_path / "conftest.py").write_text(PLANTED)
    broken = _pytest(["tests/test_specs.py", "-k", "generated"], tmp_path)
    assert broken.returncode == 1 and "2 failed" in broken.stdout
    assert "is not equivariant in float32" in broken.stdout


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


def test_a_float32_only_design_is_audited_in_float32_and_the_summary_says_why(tmp_path):
    """escnn's GatedNonLinearity1 cannot run in float64: the spec's item audits float32 and the
    terminal summary names the spec and the reason (before, the float64 run raised)."""
    specs = _project(tmp_path, ("so2_gated_classifier.yaml",))
    out = _pytest(["--equidesign-specs", "specs", "--equidesign-update-baselines"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "audited in float32 only" in out.stdout
    assert "so2_gated_classifier.yaml: float64 audit not run: escnn's GatedNonLinearity1" in (
        out.stdout
    )
    assert (specs / "so2_gated_classifier.audit.json").exists()
    assert not (specs / "so2_gated_classifier.audit.float64.json").exists()
