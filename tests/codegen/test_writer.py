"""plan_write / WritePlan: create, identical, update, conflict, force, dry-run diffs, names."""

from __future__ import annotations

import json
import os
import stat

import pytest

from equidesign.codegen import MANIFEST, plan_write
from equidesign.codegen._manifest import sha256
from equidesign.errors import CodegenError, EquidesignError, WriteConflictError

FILES = {"model.py": "x = 1\n", "audit.json": "{}\n"}


def _snapshot(folder):
    """Every file under ``folder`` (hidden ones included) -> its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_create_writes_the_files_and_the_manifest(tmp_path):
    out = tmp_path / "out"
    plan = plan_write(out, FILES)
    assert plan.actions == {"model.py": "create", "audit.json": "create"}
    assert plan.conflicts == []
    assert plan.execute() == ["model.py", "audit.json"]
    assert (out / "model.py").read_text() == "x = 1\n"
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest == {
        "generator": "equidesign",
        "files": {"audit.json": sha256(b"{}\n"), "model.py": sha256(b"x = 1\n")},
    }
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "audit.json", "model.py"]


def test_identical_files_are_not_touched(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    before = {p.name: os.stat(p) for p in out.iterdir()}
    plan = plan_write(out, dict(reversed(FILES.items())))
    assert set(plan.actions.values()) == {"identical"}
    assert plan.execute() == []
    after = {p.name: os.stat(p) for p in out.iterdir()}
    assert {n: (s.st_ino, s.st_mtime_ns) for n, s in after.items()} == {
        n: (s.st_ino, s.st_mtime_ns) for n, s in before.items()
    }


def test_update_what_equidesign_wrote(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    plan = plan_write(out, {**FILES, "model.py": "x = 2\n"})
    assert plan.actions == {"model.py": "update", "audit.json": "identical"}
    assert plan.execute() == ["model.py"]
    assert (out / "model.py").read_text() == "x = 2\n"
    recorded = json.loads((out / MANIFEST).read_text())["files"]
    assert recorded["model.py"] == sha256(b"x = 2\n")
    assert plan_write(out, {"model.py": "x = 3\n"}).actions == {"model.py": "update"}


def test_user_edits_are_conflicts_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    (out / "model.py").write_text("x = 1  # my edit\n")
    (out / "audit.json").write_text("[]\n")
    before = _snapshot(out)
    plan = plan_write(out, {"model.py": "x = 3\n", "audit.json": '{"a": 1}\n', "new.md": "n\n"})
    assert plan.actions == {"model.py": "conflict", "audit.json": "conflict", "new.md": "create"}
    assert plan.conflicts == ["model.py", "audit.json"]
    with pytest.raises(WriteConflictError) as info:
        plan.execute()
    lines = str(info.value).splitlines()
    assert lines == [
        f"{out / name}: differs from what equidesign last wrote there; move your edits away or "
        "pass --force"
        for name in ("model.py", "audit.json")
    ]
    assert _snapshot(out) == before  # not even the file without a conflict was created


def test_force_overwrites_edits_and_records_them(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    (out / "model.py").write_text("x = 1  # my edit\n")
    plan = plan_write(out, {"model.py": "x = 3\n"}, force=True)
    assert plan.actions == {"model.py": "update"} and plan.force
    plan.execute()
    assert (out / "model.py").read_text() == "x = 3\n"
    assert plan_write(out, {"model.py": "x = 4\n"}).actions == {"model.py": "update"}


def test_files_equidesign_never_wrote_are_conflicts(tmp_path):
    (tmp_path / "model.py").write_text("mine\n")
    assert plan_write(tmp_path, FILES).actions == {"model.py": "conflict", "audit.json": "create"}
    plan_write(tmp_path, FILES, force=True).execute()
    assert (tmp_path / "model.py").read_text() == "x = 1\n"


def test_an_unreadable_manifest_makes_every_difference_a_conflict(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    for broken in ("{not json", '{"generator": "other", "files": {}}', "[]"):
        (out / MANIFEST).write_text(broken)
        plan = plan_write(out, {**FILES, "model.py": "x = 2\n"})
        assert plan.actions == {"model.py": "conflict", "audit.json": "identical"}


def test_the_manifest_keeps_files_written_by_other_commands(tmp_path):
    plan_write(tmp_path, {"audit.md": "a\n", "gone.txt": "g\n"}).execute()
    (tmp_path / "gone.txt").unlink()
    plan_write(tmp_path, FILES).execute()
    recorded = json.loads((tmp_path / MANIFEST).read_text())["files"]
    assert sorted(recorded) == ["audit.json", "audit.md", "model.py"]
    assert plan_write(tmp_path, {"audit.md": "b\n"}).actions == {"audit.md": "update"}


def test_the_manifest_does_not_depend_on_the_order_of_files(tmp_path):
    plan_write(tmp_path / "a", FILES).execute()
    plan_write(tmp_path / "b", dict(reversed(FILES.items()))).execute()
    assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()


def test_files_changed_after_planning_are_not_overwritten(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    plan = plan_write(out, {**FILES, "model.py": "x = 2\n"})
    (out / "model.py").write_text("edited in between\n")
    before = _snapshot(out)
    with pytest.raises(WriteConflictError, match="model.py: changed on disk after equidesign"):
        plan.execute()
    assert _snapshot(out) == before


def test_summary_lines(tmp_path):
    plan_write(tmp_path, {"a.py": "1\n", "b.py": "1\n", "c.py": "1\n"}).execute()
    (tmp_path / "c.py").write_text("mine\n")
    plan = plan_write(tmp_path, {"a.py": "1\n", "b.py": "2\n", "c.py": "3\n", "d.py": "4\n"})
    assert plan.summary_lines() == [
        "identical a.py",
        "update    b.py",
        "conflict  c.py",
        "create    d.py",
    ]


def test_dry_run_diff_shows_the_change(tmp_path):
    plan_write(tmp_path, FILES).execute()
    plan = plan_write(tmp_path, {"model.py": "x = 2\n", "audit.json": "{}\n"})
    assert plan.diff("model.py") == (
        "--- model.py (on disk)\n+++ model.py (equidesign)\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    )
    assert plan.diff("audit.json") == ""
    assert not (tmp_path / "model.py").read_text().endswith("2\n")  # a diff writes nothing


def test_diff_of_a_new_file_and_of_a_missing_final_newline(tmp_path):
    plan = plan_write(tmp_path, {"new.py": "a\nb"})
    assert plan.diff("new.py") == (
        "--- /dev/null\n+++ new.py (equidesign)\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        "\\ No newline at end of file\n"
    )


def test_diff_of_binary_content(tmp_path):
    plan_write(tmp_path, {"plots/lee.png": b"\x89PNG\x00\xff"}).execute()
    plan = plan_write(tmp_path, {"plots/lee.png": b"\x89PNG\x00\xfe"})
    assert plan.actions == {"plots/lee.png": "update"}
    assert plan.diff("plots/lee.png") == "Binary file plots/lee.png differs\n"


def test_diff_of_an_unknown_file_says_which_files_there_are(tmp_path):
    with pytest.raises(KeyError, match="model.py"):
        plan_write(tmp_path, FILES).diff("nope.py")


def test_bytes_and_subfolders_are_written(tmp_path):
    out = tmp_path / "out"
    files = {"model.py": "é\n", "plots/lee.png": b"\x89PNG\x00", "plots/b.png": bytearray(b"b")}
    plan_write(out, files).execute()
    assert (out / "plots" / "lee.png").read_bytes() == b"\x89PNG\x00"
    assert (out / "model.py").read_bytes() == "é\n".encode()
    assert set(plan_write(out, files).actions.values()) == {"identical"}
    plan_write(out, {"more/x.txt": "x"}).execute()  # a new subfolder in an existing folder
    assert (out / "more" / "x.txt").read_text() == "x"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_are_the_usual_ones_and_kept_on_update(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    mask = _umask()
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "model.py").stat().st_mode) == 0o666 & ~mask
    os.chmod(out / "model.py", 0o640)
    plan_write(out, {"model.py": "x = 2\n", "new.py": "n\n"}).execute()
    assert stat.S_IMODE((out / "model.py").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "new.py").stat().st_mode) == 0o666 & ~mask


def test_nested_missing_parents_are_created(tmp_path):
    out = tmp_path / "a" / "b" / "c"
    plan_write(out, FILES).execute()
    assert (out / "model.py").read_text() == "x = 1\n"


@pytest.mark.parametrize(
    "name",
    [
        "../evil.py",
        "/etc/passwd",
        "a/b/c.py",
        "plots/../../evil.py",
        "",
        ".",
        "./model.py",
        "plots//x.png",
        "plots/",
        MANIFEST,
        "a\\b",
        "..\\evil.py",
        "C:evil.py",
        "x\n.py",
        "x\x00.py",
        ".equidesign-tmp-1234-model.py",
    ],
)
def test_odd_file_names_are_refused(tmp_path, name):
    with pytest.raises(CodegenError, match="is not allowed; use a relative file name"):
        plan_write(tmp_path, {name: "x"})
    assert list(tmp_path.iterdir()) == []


def test_a_name_used_as_file_and_folder_is_refused(tmp_path):
    with pytest.raises(CodegenError, match="'plots' is used both as a file and as a folder"):
        plan_write(tmp_path, {"plots": "x", "plots/a.png": b""})


@pytest.mark.parametrize("content", [None, 3, ["x"]])
def test_content_must_be_text_or_bytes(tmp_path, content):
    with pytest.raises(CodegenError, match="model.py: content must be str or bytes"):
        plan_write(tmp_path, {"model.py": content})


def test_out_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(WriteConflictError) as info:
        plan_write(target, FILES)
    assert str(info.value) == f"{target} is a file, not a folder; choose another output folder"
    with pytest.raises(WriteConflictError, match=f"{target} is a file"):
        plan_write(target / "sub", FILES)


def test_a_folder_where_a_file_goes_is_refused(tmp_path):
    (tmp_path / "model.py").mkdir()
    with pytest.raises(WriteConflictError, match="model.py is a folder, not a file"):
        plan_write(tmp_path, FILES, force=True)
    (tmp_path / "plots").write_text("x")
    with pytest.raises(WriteConflictError, match="plots is a file, but equidesign writes"):
        plan_write(tmp_path, {"plots/a.png": b""})


def test_an_unwritable_folder_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(EquidesignError) as info:
        plan_write(tmp_path, FILES)
    assert str(info.value) == (
        f"{tmp_path} is not writable; choose another output folder or fix its permissions"
    )
    with pytest.raises(EquidesignError, match=f"cannot be created in {tmp_path}"):
        plan_write(tmp_path / "new", FILES)


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_a_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(EquidesignError, match="is not writable"):
            plan_write(tmp_path, FILES)
    finally:
        tmp_path.chmod(0o700)
