"""`equidesign audit` and `equidesign report` on a user's own model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
MODELS = ROOT / "tests" / "fixtures" / "user_models.py"
SYM = ROOT / "tests" / "fixtures" / "d4_vectors.yaml"
EXE = [sys.executable, "-m", "equidesign.cli"]
CONSOLE = Path(sys.executable).parent / "equidesign"  # the installed console script


def _run(*args):
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=ROOT)


def test_audit_of_a_correct_model_passes_and_writes_three_reports(tmp_path):
    out = _run("audit", f"{MODELS}:build", "--symmetry", str(SYM), "-o", str(tmp_path / "a"))
    assert out.returncode == 0, out.stderr
    assert "PASS" in out.stdout
    written = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"audit.md", "audit.json", "audit.html"} <= written
    report = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert report["verdict"] == "PASS" and report["model"] == "build"


def test_a_planted_regression_against_a_baseline_exits_1(tmp_path):
    base = tmp_path / "base"
    assert _run("audit", f"{MODELS}:build", "-s", str(SYM), "-o", str(base)).returncode == 0
    out = _run(
        "audit",
        f"{MODELS}:build_broken",
        "-s",
        str(SYM),
        "-o",
        str(tmp_path / "now"),
        "--baseline",
        str(base / "audit.json"),
    )
    assert out.returncode == 1
    assert "REGRESSION" in out.stdout and "layer 2" in out.stdout
    assert (tmp_path / "now" / "comparison.txt").exists()


def test_errors_in_user_code_show_a_summary_and_the_traceback_and_write_nothing(tmp_path):
    out = _run("audit", f"{MODELS}:build_raises", "-s", str(SYM), "-o", str(tmp_path / "x"))
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert lines[0].endswith("the factory raised RuntimeError: the checkpoint file is missing")
    assert "Traceback of your code" in out.stderr and "helper_that_fails" in out.stderr
    assert not (tmp_path / "x").exists()


def test_bad_targets_and_symmetry_files_are_one_line_errors(tmp_path):
    bad_sym = tmp_path / "s.yaml"
    bad_sym.write_text("domain: vector\ngroup: D4\ninput: 2 x regullar\n")
    out = _run("audit", f"{MODELS}:build", "-s", str(bad_sym), "-o", str(tmp_path / "x"))
    assert out.returncode == 2 and out.stderr.startswith(f"{bad_sym}:3:8: input:")
    out = _run("audit", f"{MODELS}:nope", "-s", str(SYM), "-o", str(tmp_path / "x"))
    assert out.returncode == 2 and "has no function 'nope'" in out.stderr
    out = _run("audit", "no/such/file.py:build", "-s", str(SYM))
    assert out.returncode == 2 and "no such file" in out.stderr


def test_report_renders_a_stored_audit(tmp_path):
    assert (
        _run("audit", f"{MODELS}:build", "-s", str(SYM), "-o", str(tmp_path / "a")).returncode == 0
    )
    text = _run("report", str(tmp_path / "a" / "audit.json"))
    assert text.returncode == 0 and "MODEL EQUIVARIANCE AUDIT REPORT" in text.stdout
    page = tmp_path / "page.html"
    html = _run("report", str(tmp_path / "a" / "audit.json"), "--html", "-o", str(page))
    assert html.returncode == 0 and "<!DOCTYPE html>" in page.read_text()


def test_audit_of_a_point_cloud_model_tests_forces_and_the_lie_derivative(tmp_path):
    sym = ROOT / "tests" / "fixtures" / "e3_molecule.yaml"
    out = _run("audit", f"{MODELS}:build_molecule", "-s", str(sym), "-o", str(tmp_path / "m"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "m" / "audit.json").read_text())
    assert report["verdict"] == "PASS"
    assert report["forces"]["passed"]
    assert set(report["lie_derivative"]["generators"]) >= {"rotate_x", "translate_z"}
    assert (tmp_path / "m" / "lee.png").read_bytes().startswith(b"\x89PNG")  # LEE per generator


def test_a_package_module_target_imports_from_the_current_folder_in_the_console_script(tmp_path):
    """`equidesign audit pkg.module:factory` run from a project's root, through the console
    script (whose sys.path starts at its own folder, not the current one)."""
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(
        "import torch\n"
        "class Energy(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x.pow(2).sum(-1, keepdim=True)  # invariant under permutations\n"
        "def build():\n"
        "    return Energy()\n"
    )
    assert CONSOLE.exists(), CONSOLE
    out = subprocess.run(
        [str(CONSOLE), "audit", "mypkg.models:build", "-s", str(SYM), "-o", "report"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "report" / "audit.json").read_text())["verdict"] == "PASS"
    missing = subprocess.run(
        [str(CONSOLE), "audit", "nopkg.models:build", "-s", str(SYM)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert missing.returncode == 2 and "no module named 'nopkg'" in missing.stderr


def test_the_symmetry_file_chooses_lie_generators_and_padding_and_lee_png_is_written(tmp_path):
    models = ROOT / "tests" / "fixtures" / "image_models.py"
    sym = ROOT / "tests" / "fixtures" / "c4_image_lie.yaml"
    out = _run("audit", f"{models}:build", "-s", str(sym), "-o", str(tmp_path / "i"))
    assert out.returncode == 0, out.stderr
    lee = json.loads((tmp_path / "i" / "audit.json").read_text())["lie_derivative"]
    assert set(lee["generators"]) == {"translate_x", "rotate"} and lee["padding"] == "zeros"
    assert lee["generators"]["rotate"]["per_layer"]  # attributed
    png = (tmp_path / "i" / "lee.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "Lie derivative" in (tmp_path / "i" / "audit.html").read_text()


def test_report_and_baseline_files_that_are_not_audit_reports_give_one_line_errors(tmp_path):
    (tmp_path / "other.json").write_text('{"a": 1}')
    (tmp_path / "text.json").write_text("verdict: PASS\n")
    cases = [
        (tmp_path / "missing.json", "no such file"),
        (tmp_path, "is a folder"),
        (tmp_path / "text.json", "is not JSON"),
        (tmp_path / "other.json", "is JSON but not an equidesign audit report"),
    ]
    for path, message in cases:
        out = _run("report", str(path))
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert out.stderr.startswith("AUDIT_JSON: ") and message in out.stderr
    out = _run(
        "audit",
        f"{MODELS}:build",
        "-s",
        str(SYM),
        "--baseline",
        str(tmp_path / "other.json"),
        "-o",
        str(tmp_path / "never"),
    )
    assert out.returncode == 2 and out.stderr.startswith("--baseline: ")
    assert not (tmp_path / "never").exists()  # refused before the audit: nothing written
