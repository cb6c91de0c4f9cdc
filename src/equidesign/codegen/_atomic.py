"""Atomic writes: a folder appears whole or not at all, files in a folder change all or none.

A new folder is assembled under a temporary name beside it and renamed into place. In an
existing folder every file is first written to a temporary file next to its target; then each
old file is kept as a hard link (a copy where the file system has no links) and the new one is
moved over it with :func:`os.replace`, so a reader never finds a file missing or half-written.
When anything fails, the old files are moved back, folders made on the way are removed, and no
temporary file is left behind. Temporary names start with :data:`TMP_PREFIX`.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = ["TMP_PREFIX", "write_new_folder", "replace_in_folder"]

log = logging.getLogger(__name__)

TMP_PREFIX = ".equidesign-tmp-"
_ATTEMPTS = 100


def _temp_path(directory: Path, name: str) -> Path:
    return directory / f"{TMP_PREFIX}{secrets.token_hex(6)}-{name[:80]}"


def _create_file(path: Path, data: bytes, mode: int | None = None) -> None:
    """Create ``path`` (it must not exist) holding ``data``, flushed to disk."""
    # 0o666 and the kernel's umask give new files the usual permissions
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(path, mode)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _unique(directory: Path, name: str, make) -> Path:
    """Call ``make(path)`` on fresh temporary paths until one does not exist yet."""
    for _ in range(_ATTEMPTS):
        path = _temp_path(directory, name)
        try:
            make(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name for {name} in {directory}")


def write_new_folder(out_dir: Path, payload: Mapping[str, bytes]) -> None:
    """Create ``out_dir`` (and any missing parents) holding ``payload`` in one rename.

    Args:
        out_dir: a folder that does not exist.
        payload: relative file name -> content.

    Raises:
        OSError: writing failed; nothing was created.
    """
    top = out_dir
    while top.parent != top and not top.parent.exists():
        top = top.parent  # the first missing ancestor: the one rename makes the whole chain
    staging = _unique(top.parent, top.name, lambda p: os.mkdir(p, 0o777))
    try:
        inner = staging.joinpath(*out_dir.relative_to(top).parts)
        inner.mkdir(parents=True, exist_ok=True)
        for name, data in payload.items():
            target = inner / name
            target.parent.mkdir(exist_ok=True)
            _create_file(target, data)
        os.rename(staging, top)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("created %s with %d files", out_dir, len(payload))


def replace_in_folder(out_dir: Path, payload: Mapping[str, bytes]) -> None:
    """Write ``payload`` into the existing folder ``out_dir``, all files or none.

    Files are swapped in the order of ``payload`` (put the manifest last). An existing file
    keeps its permission bits.

    Args:
        out_dir: an existing folder.
        payload: relative file name -> content.

    Raises:
        OSError: writing failed; the folder holds what it held before.
    """
    swap = _Swap(out_dir)
    try:
        for name, data in payload.items():
            swap.stage(name, data)
        swap.commit()
    except BaseException:
        swap.roll_back()
        raise
    finally:
        swap.clean_up()
    log.info("wrote %d files into %s", len(payload), out_dir)


class _Swap:
    """The state of one :func:`replace_in_folder`: what was staged, swapped and created."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.staged: list[tuple[Path, Path]] = []  # (temporary file, target)
        self.swapped: list[tuple[Path, Path | None]] = []  # (target, backup of the old file)
        self.created: list[Path] = []  # folders made for targets, outermost first
        self.kept: set[Path] = set()  # backups that could not be moved back

    def stage(self, name: str, data: bytes) -> None:
        target = self.out_dir / name
        if not target.parent.is_dir():
            target.parent.mkdir()
            self.created.append(target.parent)
        mode = None
        if target.is_file():
            mode = stat.S_IMODE(target.stat().st_mode)
        tmp = _unique(target.parent, target.name, lambda p: _create_file(p, data, mode))
        self.staged.append((tmp, target))

    def commit(self) -> None:
        for tmp, target in self.staged:
            backup = _backup(target) if os.path.lexists(target) else None
            self.swapped.append((target, backup))
            os.replace(tmp, target)

    def roll_back(self) -> None:
        for target, backup in reversed(self.swapped):
            try:
                if backup is None:
                    target.unlink(missing_ok=True)
                else:
                    os.replace(backup, target)
            except OSError as exc:
                self.kept.add(backup)
                log.error(
                    "could not restore %s (%s); its old content is in %s", target, exc, backup
                )

    def clean_up(self) -> None:
        for tmp, _ in self.staged:
            _remove(tmp)
        for _, backup in self.swapped:
            if backup is not None and backup not in self.kept:
                _remove(backup)
        for folder in reversed(self.created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _backup(target: Path) -> Path:
    def link(path: Path) -> None:
        try:
            os.link(target, path, follow_symlinks=False)
        except FileExistsError:
            raise
        except (OSError, NotImplementedError):  # a file system without hard links
            shutil.copy2(target, path, follow_symlinks=False)

    return _unique(target.parent, f"{target.name}.old", link)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove the temporary file %s: %s", path, exc)
