"""Writing generated files, copier-style: render, compare with disk, write only when allowed.

Each file gets an action:

* ``create``: not on disk;
* ``identical``: on disk with the same bytes;
* ``update``: on disk, different, and equal to what equidesign last wrote there (or ``force``);
* ``conflict``: on disk, different, and edited since equidesign wrote it (or never written by
  equidesign) -- refused without ``force``.

"What equidesign last wrote" is the manifest ``.equidesign.json`` (sha256 per file) that is
written with the files. Writing is atomic: a new folder is assembled beside the target and
renamed into place; in an existing folder each file goes to a temporary file and is moved over
the old one, the manifest last. A failure leaves nothing half-written.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import CodegenError, EquidesignError, WriteConflictError

log = logging.getLogger(__name__)

__all__ = ["WritePlan", "plan_write", "MANIFEST"]

MANIFEST = ".equidesign.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> None:
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or len(path.parts) > 2
        or name == MANIFEST
        or "\\" in name
    ):
        raise CodegenError(f"output file name {name!r} is not a plain relative file name")


def _read_manifest(out_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text())
        files = data.get("files", {})
        return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


@dataclass
class WritePlan:
    """What writing ``files`` into ``out_dir`` would do; :meth:`execute` does it."""

    out_dir: Path
    files: dict[str, bytes]
    actions: dict[str, str]
    force: bool = False
    existing: dict[str, bytes] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[str]:
        return [n for n, a in self.actions.items() if a == "conflict"]

    def summary_lines(self) -> list[str]:
        return [f"{action:<9} {self.out_dir / name}" for name, action in self.actions.items()]

    def diff(self, name: str) -> str:
        """Unified diff between the file on disk and what would be written."""
        old = self.existing.get(name, b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = self.files[name].decode("utf-8", "replace").splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, f"{name} (on disk)", f"{name} (equidesign)"))

    def execute(self) -> None:
        """Write the files, or raise :class:`WriteConflictError` before writing anything."""
        if self.conflicts:
            raise WriteConflictError(
                "\n".join(
                    f"{self.out_dir / n}: differs from what equidesign last wrote there; move your "
                    "edits away or pass --force"
                    for n in self.conflicts
                )
            )
        # files written earlier into the same folder (by another command) stay recorded
        recorded = _read_manifest(self.out_dir) if self.out_dir.is_dir() else {}
        recorded.update({n: _sha(d) for n, d in self.files.items()})
        manifest = {"generator": "equidesign", "files": dict(sorted(recorded.items()))}
        payload = dict(self.files)
        payload[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        if self.out_dir.exists():
            self._write_into_existing(payload)
        else:
            self._write_new_folder(payload)

    def _write_new_folder(self, payload: dict[str, bytes]) -> None:
        parent = self.out_dir.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EquidesignError(f"--out: cannot create {parent}: {exc.strerror}") from exc
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.", dir=parent))
        try:
            for name, data in payload.items():
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes the folder private
            os.rename(tmp, self.out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _write_into_existing(self, payload: dict[str, bytes]) -> None:
        """Stage every file, then swap them in; on any failure put the old files back."""
        staged: list[tuple[Path, Path]] = []
        swapped: list[tuple[Path, Path | None]] = []  # (target, backup of the old file)
        try:
            for name, data in payload.items():
                if self.actions.get(name) == "identical":
                    continue
                target = self.out_dir / name
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                staged.append((Path(tmp), target))
            staged.sort(key=lambda pair: pair[1].name == MANIFEST)  # manifest last
            for tmp, target in staged:
                backup = None
                if target.exists():
                    backup = target.with_name(f".{target.name}.equidesign-old")
                    os.replace(target, backup)
                swapped.append((target, backup))
                os.replace(tmp, target)
        except BaseException:
            for target, backup in reversed(swapped):
                if backup is not None and backup.exists():
                    os.replace(backup, target)
                elif backup is None and target.exists():
                    target.unlink()
            raise
        finally:
            for tmp, _ in staged:
                if tmp.exists():
                    tmp.unlink()
        for _, backup in swapped:
            if backup is not None and backup.exists():
                backup.unlink()


def plan_write(
    out_dir: Path | str, files: dict[str, str | bytes], *, force: bool = False
) -> WritePlan:
    """Compare ``files`` with what is in ``out_dir``; nothing is written yet."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteConflictError(f"--out: {out_dir} is a file, not a folder; choose another path")
    if out_dir.exists() and not os.access(out_dir, os.W_OK):
        raise EquidesignError(f"--out: {out_dir} is not writable; choose another folder")
    data = {}
    for name, content in files.items():
        _check_name(name)
        data[name] = _bytes(content)
    manifest = _read_manifest(out_dir) if out_dir.is_dir() else {}
    actions: dict[str, str] = {}
    existing: dict[str, bytes] = {}
    for name, content in data.items():
        path = out_dir / name
        if not path.exists():
            actions[name] = "create"
            continue
        current = path.read_bytes()
        existing[name] = current
        if current == content:
            actions[name] = "identical"
        elif force or manifest.get(name) == _sha(current):
            actions[name] = "update"
        else:
            actions[name] = "conflict"
    return WritePlan(out_dir, data, actions, force, existing)
