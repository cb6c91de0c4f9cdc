"""Formatting, checking and writing generated files."""

from __future__ import annotations

import json
import os
import random

import pytest

from equidesign.codegen import (
    MANIFEST,
    compile_check,
    format_source,
    import_check,
    plan_write,
    provenance_header,
    safe_docstring,
)
from equidesign.errors import CodegenError, WriteConflictError


def test_format_is_deterministic_and_idempotent():
    ugly = "import os\ndef f( a,b ):\n  return {'a':a,\n 'b':b}\n"
    once = format_source(ugly)
    assert once == format_source(ugly) == format_source(once)
    assert "def f(a, b):" in once


def test_format_reports_syntax_errors_as_codegen_errors():
    with pytest.raises(CodegenError, match="model.py could not be formatted"):
        format_source("def f(:\n")


def test_compile_check_names_the_line():
    with pytest.raises(CodegenError, match="line 2: .*bug in equidesign"):
        compile_check("x = 1\ny = (\n", "model.py")


def test_import_check_runs_the_module_without_leaving_it_in_sys_modules():
    import sys

    module = import_check("VALUE = 41 + 1\n", "equidesign_test_module")
    assert module.VALUE == 42 and "equidesign_test_module" not in sys.modules


def test_provenance_header_is_stable_and_refuses_odd_values():
    kwargs = dict(generator_version="0.1.0", template="t.py.j2", spec_hash="ab" * 32, spec_name="m")
    assert provenance_header(**kwargs) == provenance_header(**kwargs)
    assert "sha256 abababababababab" in provenance_header(**kwargs)
    with pytest.raises(CodegenError):
        provenance_header(**{**kwargs, "spec_name": "x\nimport os"})


HOSTILE = ['"""', "\\", "'''", "\x00", 'a"', "end\\", 'x"""; import os; """', "é\u2028ü", '""""""']


@pytest.mark.parametrize(
    "text",
    HOSTILE
    + [
        "".join(random.Random(seed).choice("\"\\'abc\n\x01\x7f") for _ in range(40))
        for seed in range(40)
    ],
)
def test_safe_docstring_cannot_close_the_string(text):
    code = f'"""{safe_docstring(text)}"""'
    value = eval(compile(code, "<doc>", "eval"))
    printable = "".join(c for c in text if c == "\n" or (ord(c) >= 32 and c != "\x7f"))
    assert value.rstrip(" ") == printable.rstrip(" ") or value == printable + " "


FILES = {"model.py": "x = 1\n", "audit.json": "{}\n"}


def test_create_then_identical(tmp_path):
    out = tmp_path / "out"
    plan = plan_write(out, FILES)
    assert plan.actions == {"model.py": "create", "audit.json": "create"}
    plan.execute()
    assert (out / "model.py").read_text() == "x = 1\n"
    assert json.loads((out / MANIFEST).read_text())["generator"] == "equidesign"
    assert set(plan_write(out, FILES).actions.values()) == {"identical"}


def test_update_what_equidesign_wrote(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    plan = plan_write(out, {**FILES, "model.py": "x = 2\n"})
    assert plan.actions["model.py"] == "update"
    plan.execute()
    assert (out / "model.py").read_text() == "x = 2\n"


def test_user_edits_are_conflicts_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    (out / "model.py").write_text("x = 1  # my edit\n")
    plan = plan_write(out, {"model.py": "x = 3\n", "audit.json": '{"new": 1}\n'})
    assert plan.actions == {"model.py": "conflict", "audit.json": "update"}
    with pytest.raises(
        WriteConflictError, match="model.py: differs from what equidesign last wrote"
    ):
        plan.execute()
    assert (out / "model.py").read_text() == "x = 1  # my edit\n"
    assert (out / "audit.json").read_text() == "{}\n"
    plan_write(out, {"model.py": "x = 3\n"}, force=True).execute()
    assert (out / "model.py").read_text() == "x = 3\n"


def test_files_equidesign_never_wrote_are_not_overwritten(tmp_path):
    tmp_path.joinpath("model.py").write_text("mine\n")
    assert plan_write(tmp_path, FILES).actions["model.py"] == "conflict"


def test_dry_run_diff_shows_the_change(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    diff = plan_write(out, {"model.py": "x = 2\n"}).diff("model.py")
    assert "-x = 1" in diff and "+x = 2" in diff


def test_a_failure_while_writing_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real = os.replace

    def flaky(src, dst):
        calls["n"] += 1
        if calls["n"] == 3:  # after the first file was swapped in
            raise OSError("disk full")
        return real(src, dst)

    new = {"model.py": "x = 9\n", "audit.json": "[]\n"}
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError):
        plan_write(out, new).execute()
    monkeypatch.setattr(os, "replace", real)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # old contents back, no temporary files left behind


def test_a_new_folder_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    out = tmp_path / "fresh"

    def broken(*args, **kwargs):
        raise OSError("no")

    monkeypatch.setattr(os, "rename", broken)
    with pytest.raises(OSError):
        plan_write(out, FILES).execute()
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.py", "/etc/passwd", "a/b/c.py", "", MANIFEST, "a\\b"])
def test_odd_file_names_are_refused(tmp_path, name):
    with pytest.raises(CodegenError):
        plan_write(tmp_path, {name: "x"})


def test_out_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(WriteConflictError, match="is a file"):
        plan_write(target, FILES)
