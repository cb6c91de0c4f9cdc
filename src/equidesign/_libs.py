"""Lazy, side-effect-controlled imports of the heavy libraries.

escnn builds its joblib caches (Clebsch-Gordan coefficients, icosahedral irreps, ...) in a folder
inside its own installed package and prints joblib's progress to stdout. equidesign imports escnn
through :func:`escnn` so that the cache lives in a per-user folder instead, and joblib stays quiet:

* ``$EQUIDESIGN_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/equidesign``, else
  ``~/.cache/equidesign``; escnn's cache is the ``escnn`` folder below it.

The redirection happens while escnn's modules are first imported (they create their
``joblib.Memory`` objects at import time). When escnn was imported before equidesign had the
chance, the existing memoised functions are pointed at the same folder.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

__all__ = ["cache_dir", "escnn", "escnn_nn", "escnn_group", "escnn_gspaces"]

# modules of escnn that create a joblib.Memory at import time
_ESCNN_CACHED_MODULES = (
    "escnn.group.irrep",
    "escnn.group._clebsh_gordan",
    "escnn.group.groups.ico",
    "escnn.group.groups.octa",
    "escnn.group.groups._numerical_thomson",
)


def cache_dir() -> Path:
    """The per-user cache folder of equidesign (created on first use)."""
    env = os.environ.get("EQUIDESIGN_CACHE_DIR")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) / "equidesign" if xdg else Path.home() / ".cache" / "equidesign"
    return base


def _escnn_cache() -> Path:
    path = cache_dir() / "escnn"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _memory_redirected(location: Path):
    import joblib

    original = joblib.Memory

    class _RedirectedMemory(original):  # type: ignore[misc, valid-type]
        def __init__(self, location_=None, *args, **kwargs):  # noqa: D401
            kwargs["verbose"] = 0
            super().__init__(str(location), *args[1:] if args else (), **kwargs)

    joblib.Memory = _RedirectedMemory
    try:
        yield
    finally:
        joblib.Memory = original


def _repoint_existing(location: Path) -> None:
    """Point memoised functions of an escnn imported elsewhere at our cache folder."""
    from joblib.memory import MemorizedFunc, _store_backend_factory

    for name in _ESCNN_CACHED_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        for value in vars(module).values():
            if not isinstance(value, MemorizedFunc):
                continue
            # joblib.Memory(location) keeps its files in location/joblib: the same here
            target = location / "joblib"
            current = getattr(value.store_backend, "location", None)
            if current is None or Path(current) != target:
                value.store_backend = _store_backend_factory("local", str(target), verbose=0)
                value._verbose = 0


@functools.cache
def escnn() -> ModuleType:
    """Import escnn with its joblib cache in :func:`cache_dir` (idempotent)."""
    location = _escnn_cache()
    if "escnn" in sys.modules:
        _repoint_existing(location)
        return sys.modules["escnn"]
    with _memory_redirected(location):
        module = importlib.import_module("escnn")
        for name in ("escnn.group", "escnn.gspaces", "escnn.nn"):
            importlib.import_module(name)
        for name in _ESCNN_CACHED_MODULES:
            importlib.import_module(name)
    log.debug("escnn imported with its cache in %s", location)
    return module


def escnn_group() -> ModuleType:
    escnn()
    return sys.modules["escnn.group"]


def escnn_gspaces() -> ModuleType:
    escnn()
    return sys.modules["escnn.gspaces"]


def escnn_nn() -> ModuleType:
    escnn()
    return sys.modules["escnn.nn"]
