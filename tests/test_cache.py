"""escnn's joblib cache lives in equidesign's per-user folder, never in site-packages."""

from __future__ import annotations

import os
import subprocess
import sys


def test_escnn_cache_goes_to_the_configured_folder(tmp_path):
    code = (
        "import importlib.util, os\n"
        "spec = importlib.util.find_spec('escnn')\n"
        "pkg = os.path.join(os.path.dirname(spec.origin), 'group', '_cache')\n"
        "before = os.path.exists(pkg)\n"
        "import equidesign._libs as libs\n"
        "libs.escnn_group().ico_group()\n"
        "import escnn.group.groups.ico as ico\n"
        "print(before, os.path.exists(pkg), ico._build_ico_irrep_picklable.store_backend.location)\n"
    )
    env = {**os.environ, "EQUIDESIGN_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, after, location = out.stdout.split()
    assert location == str(tmp_path / "escnn" / "joblib")
    assert any((tmp_path / "escnn").rglob("*")), "nothing cached in the configured folder"
    if before == "False":
        assert after == "False", "escnn wrote its cache into site-packages"
    assert out.stdout.count("\n") == 1  # joblib's progress is not printed


def test_default_cache_folder_is_per_user(monkeypatch, tmp_path):
    from equidesign import _libs

    monkeypatch.delenv("EQUIDESIGN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _libs.cache_dir() == tmp_path / "equidesign"
