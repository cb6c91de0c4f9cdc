"""The command line: exit codes, one line per problem, fast --help, dry runs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
EXE = [sys.executable, "-m", "equidesign.cli"]


def _run(*args, cwd=None):
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd)


def test_version_and_help_answer_without_importing_torch():
    code = (
        "import sys; sys.argv=['equidesign','--help']\n"
        "from equidesign import cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported for --help'"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "design" in out.stdout and "explain" in out.stdout
    assert time.perf_counter() - start < 5  # the figure itself (< 0.5 s) is measured in bench/
    assert _run("--version").stdout.startswith("equidesign ")


def test_help_shows_plain_metavars_and_no_types():
    out = _run("design", "--help")
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "Usage: equidesign design [OPTIONS] SPEC",
        "",
        "  Design a model for SPEC, generate its code, audit it, and write the results.",
        "",
        "Arguments:",
        "  SPEC  The spec file (YAML).",
        "",
        "Options:",
        "  -o, --out DIR  Output folder (default: out/<spec name>).",
        "  --force        Overwrite files you edited since equidesign wrote them.",
        "  --dry-run      Show what would change; write nothing; exit as the run would.",
        "  --help         Show this message and exit.",
    ]
    for command in ("--help", "explain --help", "audit --help", "report --help"):
        text = _run(*command.split()).stdout
        assert "<" not in text.replace("<spec name>", "").replace("<factory>", ""), text
        assert "{" not in text and "..." not in text.replace("[ARGS]...", ""), text


def test_design_passes_with_exit_0_and_writes_the_files(tmp_path):
    out = _run(
        "design", str(ROOT / "specs" / "d4_vector_regression.yaml"), "-o", str(tmp_path / "o")
    )
    assert out.returncode == 0, out.stderr
    assert "PASS" in out.stdout
    assert {p.name for p in (tmp_path / "o").iterdir()} >= {
        "model.py",
        "architecture.md",
        "audit.md",
        "audit.json",
    }


def test_bad_spec_exits_2_with_one_line_per_problem(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "name: demo\ngroup: C0\ndomain: vector\ntask:\n  kind: regression\n  targtes: 2\n"
        "output:\n  type: invariant\n"
    )
    out = _run("design", str(spec), "-o", str(tmp_path / "o"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines == [
        f"{spec}:2:8: group: 'C0' is not a group; use C<n> with n >= 1, D<n>, SO2, O2, SO3, O3, "
        "SE3, E3, Sn, tetrahedral, octahedral, icosahedral, Oh, Ih, translations, or a product "
        "such as 'E3 x Sn'",
        f"{spec}:6:3: task.targtes: unknown key 'targtes'; did you mean 'targets'?",
    ]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "o").exists()


def test_refused_design_exits_2_and_writes_nothing(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: s\ngroup: SO3\ndomain: image2d\ntask:\n  kind: classification\n  classes: 2\n"
        "input:\n  size: 9\noutput:\n  type: invariant\n"
    )
    out = _run("design", str(spec), "-o", str(tmp_path / "o"))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"{spec}:2:8: group: 'SO3' on domain image2d: rotations of 3D space do not act on a 2D "
        "pixel grid; use C<n>, D<n>, SO2 or O2 for 2D images, or domain image3d / point_cloud "
        "for 3D data"
    ]
    assert not (tmp_path / "o").exists()


def test_a_budget_below_the_smallest_model_is_located_at_max_params(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: s\ngroup: C2\ndomain: vector\ntask: regression\ninput:\n  representation: "
        "regular\noutput:\n  type: invariant\nconstraints:\n  depth: 1\n  max_params: 5\n"
    )
    out = _run("design", str(spec), "-o", str(tmp_path / "o"))
    assert out.returncode == 2
    [line] = out.stderr.splitlines()
    assert re.fullmatch(
        re.escape(f"{spec}:11:15: constraints.max_params: 5 is below the smallest model of this ")
        + r"family \(\d+ parameters at width 1\); raise max_params or lower depth",
        line,
    ), line
    assert not (tmp_path / "o").exists()


def test_edited_output_is_a_conflict_unless_forced(tmp_path):
    spec = str(ROOT / "specs" / "d4_vector_regression.yaml")
    target = tmp_path / "o"
    assert _run("design", spec, "-o", str(target)).returncode == 0
    model = target / "model.py"
    model.write_text(model.read_text() + "# my change\n")
    out = _run("design", spec, "-o", str(target))
    assert out.returncode == 2 and "model.py: differs from what equidesign last wrote" in out.stderr
    assert model.read_text().endswith("# my change\n")
    dry = _run("design", spec, "-o", str(target), "--dry-run")
    assert "conflict" in dry.stdout and "-# my change" in dry.stdout
    assert dry.returncode == 2  # what the real run gives
    assert dry.stderr.splitlines() == [
        f"{model}: differs from what equidesign last wrote there; move your edits away or pass "
        "--force",
        "--dry-run: the real run would stop here with exit 2; nothing was written",
    ]
    assert model.read_text().endswith("# my change\n")
    forced = _run("design", spec, "-o", str(target), "--dry-run", "--force")
    assert forced.returncode == 0 and "update    model.py" in forced.stdout
    assert model.read_text().endswith("# my change\n")
    assert _run("design", spec, "-o", str(target), "--force").returncode == 0
    assert not model.read_text().endswith("# my change\n")


def test_explain_prints_decisions_and_rules():
    out = _run("explain", str(ROOT / "specs" / "c4_image_classifier.yaml"))
    assert out.returncode == 0
    assert "rule: selection table: finite-planar-images" in out.stdout
    assert "InnerBatchNorm" in out.stdout and "Alternatives:" in out.stdout


def test_explain_imports_no_torch_for_any_example():
    code = (
        "import sys, glob\n"
        "from typer.testing import CliRunner\n"
        "from equidesign.cli import app\n"
        "for spec in sorted(glob.glob('specs/*.yaml')):\n"
        "    result = CliRunner().invoke(app, ['explain', spec])\n"
        "    assert result.exit_code == 0, (spec, result.output)\n"
        "heavy = ('torch', 'escnn', 'e3nn', 'torch_geometric', 'symm_learning')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_explain_refuses_what_design_refuses(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: s\ngroup: D4\ndomain: vector\ntask: regression\ninput:\n"
        '  representation: "4x0e + 2x1o"\noutput:\n  type: invariant\n'
    )
    out = _run("explain", str(spec))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"{spec}:6:19: input.representation: '4x0e + 2x1o': '0e' is an e3nn irrep of O(3), not a "
        "representation of D4; use regular, trivial, standard, irrep(j,k) with j = 0 or 1 and "
        "0 <= k <= 2 (irrep(0,0), irrep(1,0), irrep(1,1), irrep(0,2), irrep(1,2)) or "
        "quotient(C<m>) or quotient(D<m>) with m dividing 4"
    ]
    text = spec.read_text().replace("D4", "SO3").replace("vector", "image2d")
    spec.write_text(text.replace("input:\n", "input:\n  size: 9\n"))
    out = _run("explain", str(spec))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"{spec}:2:8: group: 'SO3' on domain image2d: rotations of 3D space do not act on a 2D "
        "pixel grid; use C<n>, D<n>, SO2 or O2 for 2D images, or domain image3d / point_cloud "
        "for 3D data"
    ]


def test_explain_says_the_parameter_budget_is_checked_by_design(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text((ROOT / "specs" / "d4_vector_regression.yaml").read_text())
    spec.write_text(spec.read_text().replace("constraints:\n", "constraints:\n  max_params: 9\n"))
    out = _run("explain", str(spec))
    assert out.returncode == 0, out.stderr
    assert (
        "  max_params 9: checked by `equidesign design`, which narrows the width to fit or "
        "refuses when the model at width 1 is larger"
    ) in out.stdout.splitlines()


def test_schema_prints_json():
    import json

    out = _run("schema")
    assert json.loads(out.stdout)["title"] == "equidesign spec"


@pytest.mark.parametrize("verdict, code", [("PASS", 0), ("FAIL", 1), ("NEEDS_ATTENTION", 1)])
def test_exit_codes_follow_the_verdict(verdict, code):
    from equidesign.cli import EXIT_CODES

    assert EXIT_CODES[verdict] == code
