"""format_source: ruff, deterministic, independent of the folder it runs in."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from equidesign.codegen import format_source
from equidesign.errors import CodegenError

UGLY = "import os\ndef f( a,b ):\n  return {'a':a,\n 'b':b}\n"


def test_format_is_deterministic_and_idempotent():
    once = format_source(UGLY)
    assert once == format_source(UGLY) == format_source(once)
    assert "def f(a, b):" in once and '{"a": a, "b": b}' in once


def test_format_wraps_at_100_columns():
    args = ", ".join(f"argument_{i}" for i in range(12))
    formatted = format_source(f"result = some_function({args})\n")
    assert max(len(line) for line in formatted.splitlines()) <= 100
    assert len(formatted.splitlines()) > 1
    short = "x = [" + ", ".join(["1"] * 30) + "]\n"  # 95 columns: stays on one line
    assert format_source(short) == short


def test_format_ignores_ruff_settings_of_the_working_folder(tmp_path, monkeypatch):
    expected = format_source(UGLY)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ruff]\nline-length = 20\nexclude = ["model.py"]\n'
        '[tool.ruff.format]\nquote-style = "single"\nindent-style = "tab"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert format_source(UGLY) == expected


def test_format_keeps_non_ascii_text():
    code = 's = "équivariance — ∀g ∈ G 🙂"\n'
    assert format_source(code) == code


def test_format_reports_syntax_errors_naming_the_file_and_ruffs_message():
    with pytest.raises(CodegenError) as info:
        format_source("def f(:\n", filename="layers.py")
    message = str(info.value)
    assert message.startswith("generated layers.py could not be formatted: Failed to parse")
    assert "layers.py:1:7" in message and "bug in equidesign" in message
    assert len(message.splitlines()) == 1


def test_missing_ruff_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ruff" else real(name, *a)
    )
    with pytest.raises(CodegenError, match="pip install ruff"):
        format_source("x = 1\n")


def test_codegen_does_not_import_torch():
    code = "import sys, equidesign.codegen; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
