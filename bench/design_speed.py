"""CLI speed (issue 3 figures), wall times of whole commands, measured in one run.

1. ``equidesign design specs/c4_image_classifier.yaml``: at most the import time of the
   libraries it needs (torch, escnn, jinja2, pydantic, rich) plus 3 s.
2. ``equidesign --help``: under 0.5 s.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
IMPORTS = (
    "import equidesign._libs as libs; libs.escnn(); "
    "import torch, escnn.nn, jinja2, pydantic, yaml, rich, typer"
)


def _wall(args: list[str], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(repeats: int = 3) -> list[dict]:
    repeats = max(3, min(repeats, 5))
    exe = str(Path(sys.executable).with_name("equidesign"))
    out = Path(tempfile.mkdtemp(prefix="equidesign-bench-"))
    try:
        spec = str(ROOT / "specs" / "c4_image_classifier.yaml")
        imports = _wall([sys.executable, "-c", IMPORTS], repeats)
        design = _wall([exe, "design", spec, "-o", str(out / "demo"), "--force"], repeats)
        helps = _wall([exe, "--help"], repeats)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return [
        {
            "name": "equidesign design (C4 example): seconds beyond the libraries' import time",
            "ratio": design - imports,
            "target": "<= 3 s",
            "ok": design - imports <= 3.0,
            "times": {"design": design, "imports": imports},
        },
        {
            "name": "equidesign --help: seconds",
            "ratio": helps,
            "target": "< 0.5 s",
            "ok": helps < 0.5,
            "times": {"help": helps},
        },
    ]
