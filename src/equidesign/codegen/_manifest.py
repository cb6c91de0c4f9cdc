"""The manifest: what equidesign last wrote into a folder, as one sha256 per file.

``out_dir/.equidesign.json`` holds ``{"generator": "equidesign", "files": {name: sha256}}``. A
file on disk whose hash is recorded there is equidesign's own and may be replaced; any other
content is the user's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["MANIFEST", "read_manifest", "manifest_bytes", "sha256"]

log = logging.getLogger(__name__)

MANIFEST = ".equidesign.json"
_SHA = re.compile(r"[0-9a-f]{64}")


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_manifest(out_dir: Path) -> dict[str, str]:
    """What equidesign recorded in ``out_dir``: ``{name: sha256}``; empty when there is none.

    A manifest that cannot be read or was not written by equidesign counts as absent, so every
    file in the folder is then treated as the user's.
    """
    path = out_dir / MANIFEST
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable manifest %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("generator") != "equidesign":
        log.warning("ignoring %s: it was not written by equidesign", path)
        return {}
    files = data.get("files")
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and _SHA.fullmatch(str(v))}


def manifest_bytes(files: Mapping[str, str]) -> bytes:
    """The manifest recording ``files`` (``{name: sha256}``), as deterministic bytes."""
    manifest = {"generator": "equidesign", "files": dict(sorted(files.items()))}
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
