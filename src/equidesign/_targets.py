"""Loading a user's model factory from ``path/to/file.py:factory`` or ``package.module:factory``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

from .errors import EquidesignError, UserCodeError

__all__ = ["load_factory", "call_factory"]


def _user_traceback(exc: BaseException) -> str:
    """The traceback without equidesign's own frames."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if "/equidesign/" not in f.filename
    ]
    return "".join(traceback.format_list(frames)) + f"{type(exc).__name__}: {exc}\n"


def load_factory(target: str):
    """The callable named by ``target``: ``file.py:name`` or ``package.module:name``."""
    if ":" not in target:
        raise EquidesignError(
            f"TARGET {target!r}: name the factory too, as path/to/file.py:build or "
            "package.module:build"
        )
    where, _, name = target.rpartition(":")
    if not name.isidentifier():
        raise EquidesignError(f"TARGET {target!r}: {name!r} is not a function name")
    try:
        if where.endswith(".py") or "/" in where:
            path = Path(where)
            if not path.is_file():
                raise EquidesignError(f"TARGET {target!r}: no such file {where!r}")
            module_name = f"equidesign_target_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.resolve().parent))
        else:
            # as `python -m` does: the current folder first, so that a project's own packages
            # import from the console script too (its sys.path starts at the script's folder)
            cwd = str(Path.cwd())
            if cwd not in sys.path and "" not in sys.path:
                sys.path.insert(0, cwd)
            module = importlib.import_module(where)
    except EquidesignError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name and where.startswith(exc.name):
            raise EquidesignError(f"TARGET {target!r}: no module named {exc.name!r}") from None
        raise UserCodeError(
            f"TARGET {target!r}: importing it raised {type(exc).__name__}: {exc}",
            _user_traceback(exc),
        ) from exc
    except Exception as exc:
        raise UserCodeError(
            f"TARGET {target!r}: importing it raised {type(exc).__name__}: {exc}",
            _user_traceback(exc),
        ) from exc
    factory = getattr(module, name, None)
    if not callable(factory):
        raise EquidesignError(
            f"TARGET {target!r}: {where} has no function {name!r}"
            + (
                f" (it has {', '.join(sorted(n for n in dir(module) if not n.startswith('_'))[:8])})"
            )
        )
    return factory


def call_factory(factory, target: str) -> tuple[Any, Any]:
    """``(model, inputs or None)`` from the factory; user errors keep their traceback."""
    import torch

    try:
        result = factory()
    except Exception as exc:
        raise UserCodeError(
            f"TARGET {target!r}: the factory raised {type(exc).__name__}: {exc}",
            _user_traceback(exc),
        ) from exc
    model, inputs = result if isinstance(result, tuple) else (result, None)
    if isinstance(result, tuple) and len(result) != 2:
        raise EquidesignError(
            f"TARGET {target!r}: the factory returned {len(result)} values; return a model, or "
            "(model, inputs)"
        )
    if not isinstance(model, torch.nn.Module):
        raise EquidesignError(
            f"TARGET {target!r}: the factory returned {type(model).__name__}, not a torch.nn.Module"
        )
    return model, inputs
