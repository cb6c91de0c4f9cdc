"""Writing generated files, copier-style: compare with disk, then write only when allowed.

Each file gets an action:

* ``create``: not on disk;
* ``identical``: on disk with the same bytes (nothing is written);
* ``update``: on disk, different, and equal to what equidesign last wrote there (or ``force``);
* ``conflict``: on disk, different, and edited since equidesign wrote it, or never written by
  equidesign -- refused without ``force``.

"What equidesign last wrote" is the manifest (see :mod:`._manifest`), written with the files.
:meth:`WritePlan.execute` refuses every conflict before it writes anything, then writes
atomically (see :mod:`._atomic`).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import CodegenError, EquidesignError, WriteConflictError
from ._atomic import TMP_PREFIX, replace_in_folder, write_new_folder
from ._manifest import MANIFEST, manifest_bytes, read_manifest, sha256

__all__ = ["WritePlan", "plan_write"]

log = logging.getLogger(__name__)

_NAME_RULE = (
    "use a relative file name like 'model.py' or 'plots/x.png' (at most one folder, no '..', "
    "no absolute path)"
)


@dataclass
class WritePlan:
    """What writing ``files`` into ``out_dir`` would do; :meth:`execute` does it.

    Attributes:
        out_dir: the output folder.
        files: relative name -> the bytes equidesign would write.
        actions: relative name -> ``"create"``, ``"identical"``, ``"update"`` or ``"conflict"``.
        force: whether conflicts were turned into updates.
        existing: relative name -> the bytes on disk, for files that exist.
    """

    out_dir: Path
    files: dict[str, bytes] = field(repr=False)
    actions: dict[str, str]
    force: bool = False
    existing: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def conflicts(self) -> list[str]:
        """Names of the files that would overwrite edits (empty with ``force``)."""
        return [name for name, action in self.actions.items() if action == "conflict"]

    def summary_lines(self) -> list[str]:
        """One line per file: the action, then the name (``create    model.py``)."""
        return [f"{action:<9} {name}" for name, action in self.actions.items()]

    def diff(self, name: str) -> str:
        """Unified diff from the file on disk to what would be written (for ``--dry-run``).

        Args:
            name: a file of this plan.

        Returns:
            The diff; ``""`` for an identical file, one line for binary content.
        """
        if name not in self.files:
            raise KeyError(f"{name!r} is not in this plan; it holds {sorted(self.files)}")
        old, new = self.existing.get(name), self.files[name]
        if old == new:
            return ""
        try:
            old_text = "" if old is None else old.decode("utf-8")
            new_text = new.decode("utf-8")
        except UnicodeDecodeError:
            return f"Binary file {name} differs\n"
        before = f"{name} (on disk)" if old is not None else "/dev/null"
        lines = difflib.unified_diff(
            _lines(old_text), _lines(new_text), before, f"{name} (equidesign)"
        )
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines
        )

    def execute(self) -> list[str]:
        """Write the files: all of them or, on any failure, none.

        Identical files are not touched. The manifest, which records what was written, is
        written last.

        Returns:
            The names of the files written (without the manifest).

        Raises:
            WriteConflictError: some files hold edits (every one is named, with the fix), or a
                file changed on disk after the plan was made; nothing was written.
            EquidesignError: the file system refused a write; nothing was changed.
        """
        if self.conflicts:
            raise WriteConflictError(
                "\n".join(
                    f"{self.out_dir / name}: differs from what equidesign last wrote there; "
                    "move your edits away or pass --force"
                    for name in self.conflicts
                )
            )
        self._check_unchanged()
        payload = {n: d for n, d in self.files.items() if self.actions[n] != "identical"}
        written = list(payload)
        try:
            if self.out_dir.is_dir():
                manifest = self._manifest()
                if _read(self.out_dir / MANIFEST) != manifest:
                    payload[MANIFEST] = manifest
                if payload:
                    replace_in_folder(self.out_dir, payload)
            else:
                payload[MANIFEST] = self._manifest()
                write_new_folder(self.out_dir, payload)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise EquidesignError(
                f"{self.out_dir}: could not write the files ({reason}); nothing was changed"
            ) from exc
        log.info("%s: %s", self.out_dir, ", ".join(self.summary_lines()))
        return written

    def _manifest(self) -> bytes:
        # files written into the same folder by another command stay recorded while they exist
        recorded = read_manifest(self.out_dir) if self.out_dir.is_dir() else {}
        recorded = {n: h for n, h in recorded.items() if (self.out_dir / n).is_file()}
        recorded.update({n: sha256(d) for n, d in self.files.items()})
        return manifest_bytes(recorded)

    def _check_unchanged(self) -> None:
        for name in self.files:
            if _read(self.out_dir / name) != self.existing.get(name):
                raise WriteConflictError(
                    f"{self.out_dir / name}: changed on disk after equidesign compared it; "
                    "run the command again"
                )


def plan_write(
    out_dir: Path | str, files: Mapping[str, str | bytes], *, force: bool = False
) -> WritePlan:
    """Compare ``files`` with what is in ``out_dir``; nothing is written yet.

    Args:
        out_dir: the output folder; it need not exist.
        files: relative name (``"model.py"``, ``"plots/lee.png"``) -> text (written as UTF-8)
            or bytes.
        force: plan to overwrite files that hold edits.

    Returns:
        The plan; call :meth:`WritePlan.execute` to write.

    Raises:
        CodegenError: a name that is not a plain relative file name, or content that is neither
            text nor bytes (a bug in equidesign).
        WriteConflictError: ``out_dir``, or a path inside it, is a file where a folder is needed
            (or the reverse).
        EquidesignError: ``out_dir`` cannot be written.
    """
    out_dir = Path(out_dir)
    _check_folder(out_dir)
    data = {name: _content(name, content) for name, content in files.items()}
    _check_names(data)
    recorded = read_manifest(out_dir) if out_dir.is_dir() else {}
    actions: dict[str, str] = {}
    existing: dict[str, bytes] = {}
    for name, content in data.items():
        current = _current(out_dir, name)
        if current is None:
            actions[name] = "create"
            continue
        existing[name] = current
        if current == content:
            actions[name] = "identical"
        elif force or recorded.get(name) == sha256(current):
            actions[name] = "update"
        else:
            actions[name] = "conflict"
    return WritePlan(out_dir, data, actions, force, existing)


def _check_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteConflictError(f"{out_dir} is a file, not a folder; choose another output folder")
    ancestor = out_dir
    while not ancestor.exists() and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise WriteConflictError(
            f"{out_dir} cannot be created: {ancestor} is a file; choose another output folder"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        what = "is not writable" if ancestor == out_dir else f"cannot be created in {ancestor}"
        raise EquidesignError(
            f"{out_dir} {what}; choose another output folder or fix its permissions"
        )


def _content(name: object, content: object) -> bytes:
    if not isinstance(name, str):
        raise CodegenError(f"output file name {name!r} is not a string; {_NAME_RULE}")
    if isinstance(content, str):
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CodegenError(f"{name}: content is not valid unicode ({exc.reason})") from exc
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    raise CodegenError(f"{name}: content must be str or bytes, not {type(content).__name__}")


def _check_name(name: str) -> None:
    path = PurePosixPath(name)
    plain = (
        name == str(path)  # no "./", "//" or trailing "/"
        and not path.is_absolute()
        and 1 <= len(path.parts) <= 2
        and all(part not in (".", "..") and not part.startswith(TMP_PREFIX) for part in path.parts)
        and name != MANIFEST
        and not any(c in name for c in "\\:")
        and name.isprintable()
    )
    if not plain:
        raise CodegenError(f"output file name {name!r} is not allowed; {_NAME_RULE}")


def _check_names(files: Mapping[str, bytes]) -> None:
    for name in files:
        _check_name(name)
    folders = {str(PurePosixPath(name).parent) for name in files}
    clashes = sorted(folders & set(files))
    if clashes:
        raise CodegenError(f"output name {clashes[0]!r} is used both as a file and as a folder")


def _current(out_dir: Path, name: str) -> bytes | None:
    """The bytes of ``out_dir/name``, ``None`` when absent; refuse folders in the way."""
    path = out_dir / name
    if path.parent != out_dir and path.parent.exists() and not path.parent.is_dir():
        raise WriteConflictError(
            f"{path.parent} is a file, but equidesign writes {name} into a folder of that name; "
            "move it away"
        )
    if path.exists() and not path.is_file():
        raise WriteConflictError(f"{path} is a folder, not a file; move it away")
    return _read(path)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except IsADirectoryError:
        return b""  # compares unequal to any plan: the caller reports a change on disk


def _lines(text: str) -> list[str]:
    # split on "\n" only: str.splitlines also breaks at form feeds and unicode separators
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
