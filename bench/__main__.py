"""``python -m bench``: run every benchmark, print the ratios, save them as JSON.

Options: ``--repeats N`` (default 7), ``--only NAME`` (a module: audit_speed, molecule_speed, design_speed, lie_speed, field_models).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("EQUIDESIGN_CACHE_DIR", str(Path(tempfile.gettempdir()) / "equidesign-bench"))

BENCHES = ("audit_speed", "molecule_speed", "design_speed", "lie_speed", "field_models")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=BENCHES)
    args = parser.parse_args(argv)
    import torch

    all_results = []
    for name in BENCHES:
        if args.only and name != args.only:
            continue
        module = importlib.import_module(f"bench.{name}")
        results = module.run(repeats=args.repeats)
        all_results += [{"bench": name, **r} for r in results]
        for r in results:
            mark = "ok " if r["ok"] else "MISS"
            times = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in r["times"].items())
            print(f"[{mark}] {r['ratio']:6.2f}  (target {r['target']:>6})  {r['name']}  [{times}]")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    meta = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
    (out / "latest.json").write_text(json.dumps({"meta": meta, "results": all_results}, indent=2))
    print(f"saved {out / 'latest.json'}")
    return 0 if all(r["ok"] for r in all_results) else 1


if __name__ == "__main__":
    sys.exit(main())
