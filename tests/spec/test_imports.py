"""Validating a spec stays instant: it never imports torch, escnn or e3nn."""

from __future__ import annotations

import subprocess
import sys

from ._cases import EXAMPLE_SPECS, GOOD

_HEAVY = ("torch", "escnn", "e3nn", "torch_geometric", "symm_learning")


def test_loading_a_spec_never_imports_torch():
    code = (
        "import sys\n"
        "from equidesign.spec import load_spec, spec_json_schema\n"
        "from equidesign.errors import SpecError\n"
        f"for path in {[str(p) for p in EXAMPLE_SPECS]!r}: load_spec(path)\n"
        f"for text in {list(GOOD.values())!r}: load_spec(text).spec_hash()\n"
        "spec_json_schema()\n"
        "try:\n"
        "    load_spec('name: x\\ngroup: C0\\n')\n"
        "except SpecError:\n"
        "    pass\n"
        f"print(sorted(m for m in {_HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
