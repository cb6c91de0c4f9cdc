"""Every example spec designs, generates, compiles, imports, trains a step and audits PASS."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import equidesign as eqd
from equidesign.codegen import compile_check

ROOT = Path(__file__).parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SNAPSHOTS = ROOT / "tests" / "snapshots"
UPDATE = "UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/designer/test_examples.py -k snapshot"


@pytest.fixture(scope="module")
def designs():
    return {path.stem: eqd.design(path) for path in SPECS}


@pytest.mark.parametrize("name", [p.stem for p in SPECS])
def test_generated_model_compiles_imports_trains_and_audits_pass(designs, name):
    design = designs[name]
    compile_check(design.source, "model.py")
    model = design.build()
    x = design.example_input(batch=4, seed=1)
    assert sum(p.numel() for p in model.parameters()) == design.plan.parameters
    model.train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    out = model(x)
    loss = out.pow(2).mean() + out.sum() * 0.01
    loss.backward()
    optimiser.step()
    report = eqd.audit(model, design.symmetry, seed=design.plan.seed)
    assert report.verdict == "PASS", report.to_text()
    assert report.end_to_end.max_rel <= 1e-5
    # the Lie derivative's attribution (which layers carry the small error of a grid model under
    # continuous rotations) is information on a PASS, not a fault
    assert report.findings == []
    assert model.training  # the audit restored the mode it found


@pytest.mark.parametrize("name", [p.stem for p in SPECS])
def test_snapshot_of_generated_code(designs, name):
    expected_path = SNAPSHOTS / f"{name}.py"
    source = designs[name].source
    if os.environ.get("UPDATE_SNAPSHOTS"):
        expected_path.write_text(source)
    assert expected_path.exists(), f"no snapshot {expected_path}; create it with: {UPDATE}"
    expected = expected_path.read_text()
    if source != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                source.splitlines(keepends=True),
                str(expected_path),
                "generated",
            )
        )
        pytest.fail(f"generated code changed:\n{diff}\nif intended, update with: {UPDATE}")


def test_generated_code_passes_the_linter(tmp_path, designs):
    for name, design in designs.items():
        (tmp_path / f"{name}.py").write_text(design.source)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "E,F,W,I,B",
            "--line-length",
            "100",
            "--output-format",
            "concise",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


_RENDER_ALL = """
import hashlib, json, sys
from equidesign.designer import plan_for
from equidesign.spec import load_spec
from equidesign.templates import render_architecture, render_model
digests = {}
for path in sys.argv[1:]:
    spec = load_spec(path)
    plan = plan_for(spec)
    source = render_model(plan, spec.to_yaml())
    text = source + render_architecture(plan, source)
    digests[path] = hashlib.sha256(text.encode()).hexdigest()
print(json.dumps(digests, sort_keys=True))
"""


def test_every_spec_renders_byte_identically_under_different_hash_seeds():
    # render only (plan, model.py and architecture.md; no build, no audit), in two processes at
    # once with different PYTHONHASHSEEDs: set and dict orders must not leak into the output
    paths = [str(p) for p in SPECS]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _RENDER_ALL, *paths],
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    outputs = [run.communicate() for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    first, second = (json.loads(out) for out, _ in outputs)
    assert sorted(first) == sorted(paths)
    assert first == second


def test_generated_module_imports_on_its_own(tmp_path, designs):
    path = tmp_path / "gen_model.py"
    path.write_text(designs["c4_image_classifier"].source)
    source = designs["c4_image_classifier"].source
    assert "equidesign" not in "".join(
        line for line in source.splitlines() if line.startswith(("import", "from"))
    )
    # escnn imported through equidesign first only to keep its joblib cache out of site-packages;
    # the generated module itself imports nothing of equidesign
    code = (
        "import equidesign._libs as libs; libs.escnn(); "
        "import gen_model; m = gen_model.build_model(0); "
        "print(tuple(m(gen_model.example_input(2)).shape))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == "(2, 10)"


def test_architecture_specification_follows_the_template(designs):
    text = designs["c4_image_classifier"].architecture_spec()
    for part in (
        "ARCHITECTURE SPECIFICATION",
        "Target Symmetry: C4",
        "Symmetry Type: Invariant",
        "Architecture Family: regular-field G-CNN",
        "Library: escnn",
        "Layer Specification:",
        "Estimated Parameters: 6,106",
        "Key Dependencies: torch",
        "Code Skeleton:",
        "NEXT STEPS:",
    ):
        assert part in text


def test_plan_lists_every_layer_with_sizes_and_reasons(designs):
    plan = designs["c4_image_classifier"].plan
    model = designs["c4_image_classifier"].build()
    names = dict(model.named_modules())
    for layer in plan.layers:
        assert layer.name in names  # plan names are named_modules paths
        assert layer.params is not None
    pools = [layer for layer in plan.layers if layer.role == "downsample"]
    assert [(p.in_size[0], p.out_size[0]) for p in pools] == [(29, 15), (15, 8)]


def test_max_params_shrinks_the_width_and_records_why():
    spec = (ROOT / "specs" / "c4_image_classifier.yaml").read_text() + "  max_params: 2000\n"
    design = eqd.design(spec)
    assert design.plan.parameters <= 2000 and design.plan.width < 8
    assert design.plan.adjustments[0].check == "parameters"


def test_max_params_below_the_smallest_model_is_refused():
    spec = (ROOT / "specs" / "c4_image_classifier.yaml").read_text() + "  max_params: 10\n"
    with pytest.raises(eqd.EquidesignError, match="max_params: 10 is below the smallest model"):
        eqd.design(spec)


def test_run_writes_the_four_files(tmp_path):
    design, report = eqd.run(ROOT / "specs" / "d4_vector_regression.yaml", tmp_path / "out")
    assert report.verdict == "PASS"
    for name in ("model.py", "architecture.md", "audit.md", "audit.json"):
        assert (tmp_path / "out" / name).exists()
    assert (
        eqd.AuditReport.model_validate_json((tmp_path / "out" / "audit.json").read_text()) == report
    )
