"""Formatting and checking generated source: ruff format, compile, import on its own."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types

from ..errors import CodegenError

__all__ = ["format_source", "compile_check", "import_check"]


def format_source(code: str, *, filename: str = "model.py") -> str:
    """``code`` formatted by ``ruff format`` (line length 100); deterministic."""
    if importlib.util.find_spec("ruff") is None:
        raise CodegenError(
            "ruff is not installed; equidesign formats generated code with it: pip install ruff"
        )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--line-length",
            "100",
            "--stdin-filename",
            filename,
            "-",
        ],
        input=code,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["unknown error"])[0]
        raise CodegenError(f"generated {filename} could not be formatted: {first}")
    return proc.stdout


def compile_check(code: str, filename: str, template: str = "") -> None:
    """Raise :class:`CodegenError` naming the line when ``code`` does not compile."""
    try:
        compile(code, filename, "exec")
    except SyntaxError as exc:
        where = f" {template}" if template else ""
        raise CodegenError(
            f"generated {filename} does not compile: line {exc.lineno}: {exc.msg} -- this is a bug "
            f"in equidesign's template{where}, please report it"
        ) from exc


def import_check(code: str, module_name: str) -> types.ModuleType:
    """Execute ``code`` as a fresh module object (not left in ``sys.modules``) and return it."""
    module = types.ModuleType(module_name)
    module.__file__ = f"<{module_name}>"
    sys.modules[module_name] = module  # dataclasses and pickling look the module up while it runs
    try:
        exec(compile(code, module.__file__, "exec"), module.__dict__)
    except SyntaxError as exc:
        raise CodegenError(
            f"generated {module_name} does not compile: line {exc.lineno}: {exc.msg}"
        ) from exc
    finally:
        sys.modules.pop(module_name, None)
    return module
