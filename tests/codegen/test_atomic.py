"""A failure at any point of WritePlan.execute leaves no half-written folder, no temporary file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from equidesign.codegen import MANIFEST, _atomic, plan_write
from equidesign.errors import EquidesignError

FILES = {"model.py": "x = 1\n", "audit.json": "{}\n", "architecture.md": "# A\n"}
NEW = {"model.py": "x = 9\n", "audit.json": "[]\n", "architecture.md": "# B\n"}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _fail_on_call(monkeypatch, module, name: str, n: int, exc: BaseException) -> None:
    real = getattr(module, name)
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)


@pytest.fixture
def written(tmp_path):
    out = tmp_path / "out"
    plan_write(out, FILES).execute()
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_failure_while_swapping_files_in_puts_the_old_ones_back(written, monkeypatch, n):
    before = _snapshot(written)
    _fail_on_call(monkeypatch, os, "replace", n, OSError(28, "No space left on device"))
    with pytest.raises(EquidesignError) as info:
        plan_write(written, NEW).execute()
    assert str(info.value) == (
        f"{written}: could not write the files (No space left on device); nothing was changed"
    )
    monkeypatch.undo()
    assert _snapshot(written) == before  # old contents back, no temporary files left behind
    assert plan_write(written, FILES).actions == dict.fromkeys(FILES, "identical")


def test_a_failure_while_staging_changes_nothing(written, monkeypatch):
    before = _snapshot(written)
    _fail_on_call(monkeypatch, os, "fsync", 2, OSError("I/O error"))
    with pytest.raises(EquidesignError, match=r"could not write the files \(I/O error\)"):
        plan_write(written, NEW).execute()
    monkeypatch.undo()
    assert _snapshot(written) == before


def test_an_interrupt_mid_write_rolls_back_and_is_not_swallowed(written, monkeypatch):
    before = _snapshot(written)
    _fail_on_call(monkeypatch, os, "replace", 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        plan_write(written, NEW).execute()
    monkeypatch.undo()
    assert _snapshot(written) == before


def test_new_files_and_subfolders_are_removed_on_failure(written, monkeypatch):
    before = _snapshot(written)
    _fail_on_call(monkeypatch, os, "replace", 3, OSError("no"))
    with pytest.raises(EquidesignError):
        plan_write(written, {"new.md": "n\n", "plots/a.png": b"a", "model.py": "y\n"}).execute()
    monkeypatch.undo()
    assert _snapshot(written) == before
    assert not (written / "plots").exists() and not (written / "new.md").exists()


def test_files_never_go_missing_while_they_are_replaced(written, monkeypatch):
    seen = []
    real = os.replace

    def watching(src, dst):
        seen.append(all((written / name).is_file() for name in FILES))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", watching)
    plan_write(written, NEW).execute()
    assert seen and all(seen)


def test_without_hard_links_backups_are_copies(written, monkeypatch):
    before = _snapshot(written)

    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    _fail_on_call(monkeypatch, os, "replace", 3, OSError("no"))
    with pytest.raises(EquidesignError):
        plan_write(written, NEW).execute()
    monkeypatch.undo()
    assert _snapshot(written) == before
    monkeypatch.setattr(os, "link", no_links)
    plan_write(written, NEW).execute()
    assert _snapshot(written) == {
        **{n: c.encode() for n, c in NEW.items()},
        MANIFEST: _manifest(NEW),
    }


def _manifest(files: dict[str, str]) -> bytes:
    from equidesign.codegen._manifest import manifest_bytes, sha256

    return manifest_bytes({n: sha256(c.encode()) for n, c in files.items()})


def test_the_manifest_is_swapped_in_last(written, monkeypatch):
    order = []
    real = os.replace

    def recording(src, dst):
        order.append(Path(dst).name)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", recording)
    plan_write(written, {**NEW, "plots/a.png": b"a"}).execute()
    assert order[-1] == MANIFEST and set(order) == {*NEW, "a.png", MANIFEST}


@pytest.mark.parametrize("n", [1, 2])
def test_a_new_folder_appears_whole_or_not_at_all(tmp_path, monkeypatch, n):
    out = tmp_path / "fresh"
    if n == 1:
        _fail_on_call(monkeypatch, os, "rename", 1, OSError("no"))
    else:
        _fail_on_call(monkeypatch, os, "fsync", 2, OSError("no"))
    with pytest.raises(EquidesignError, match=f"{out}: could not write the files"):
        plan_write(out, FILES).execute()
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_parents_are_created_in_the_same_rename(tmp_path, monkeypatch):
    renames = []
    real = os.rename

    def recording(src, dst):
        renames.append(Path(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", recording)
    plan_write(tmp_path / "a" / "b" / "out", FILES).execute()
    assert renames == [tmp_path / "a"]
    assert _snapshot(tmp_path / "a" / "b" / "out").keys() == {*FILES, MANIFEST}


def test_a_failed_new_nested_folder_leaves_no_parents(tmp_path, monkeypatch):
    _fail_on_call(monkeypatch, os, "rename", 1, OSError("no"))
    with pytest.raises(EquidesignError):
        plan_write(tmp_path / "a" / "b" / "out", FILES).execute()
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_are_hidden_and_marked(tmp_path):
    path = _atomic._temp_path(tmp_path, "model.py")
    assert path.parent == tmp_path and path.name.startswith(_atomic.TMP_PREFIX)
    assert path.name.endswith("-model.py")
