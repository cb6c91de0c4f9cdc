"""Checks on generated source: it compiles, and it imports on its own."""

from __future__ import annotations

import linecache
import logging
import sys
import traceback
import types

from ..errors import CodegenError, EquidesignError

__all__ = ["compile_check", "import_check"]

log = logging.getLogger(__name__)


def _bug(template: str | None) -> str:
    where = f"template {template}" if template else "templates"
    return f"this is a bug in equidesign's {where}, please report it"


def _compile(code: str, filename: str, template: str | None) -> types.CodeType:
    # dont_inherit: this module's own ``from __future__`` imports must not leak into the
    # generated code, or the check would accept code that a plain import rejects.
    try:
        return compile(code, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise CodegenError(
            f"generated {filename} does not compile: line {exc.lineno}: {exc.msg} — "
            f"{_bug(template)}"
        ) from exc
    except ValueError as exc:  # null bytes, on Python versions that do not call it a syntax error
        raise CodegenError(
            f"generated {filename} does not compile: {exc} — {_bug(template)}"
        ) from exc


def compile_check(code: str, filename: str, *, template: str | None = None) -> None:
    """Raise when generated source does not compile.

    Args:
        code: the generated source.
        filename: the file it will be written to (``"model.py"``).
        template: the template it was rendered from, named in the message.

    Raises:
        CodegenError: ``generated model.py does not compile: line N: msg — this is a bug in
            equidesign's template T, please report it``.
    """
    _compile(code, filename, template)


def import_check(code: str, module_name: str, *, template: str | None = None) -> types.ModuleType:
    """Execute generated source as a fresh module object and return it.

    This proves the source imports on its own (no names from equidesign's namespace, no
    ``from __future__`` flags inherited). The module is visible in ``sys.modules`` only while its
    body runs (dataclasses and ``typing`` look it up there); whatever was registered under
    ``module_name`` before is put back afterwards. The source is registered with ``linecache``,
    so tracebacks through generated code show its lines and ``inspect.getsource`` works.

    Args:
        code: the generated source.
        module_name: the module's ``__name__``, a dotted Python name.
        template: the template it was rendered from, named in error messages.

    Returns:
        The executed module.

    Raises:
        CodegenError: the source does not compile, or its body raised.
        EquidesignError: it imports a package that is not installed.
    """
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise CodegenError(f"module name {module_name!r} is not a dotted Python name")
    filename = f"<equidesign:{module_name}>"
    compiled = _compile(code, filename, template)
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        exec(compiled, module.__dict__)
    except ModuleNotFoundError as exc:
        package = (exc.name or str(exc)).split(".")[0]
        raise EquidesignError(
            f"generated module {module_name} imports {package}, which is not installed: "
            f"install it (pip install {package})"
        ) from exc
    except Exception as exc:
        raise CodegenError(
            f"generated module {module_name} failed to import: {_line(exc, filename)}"
            f"{type(exc).__name__}: {exc} — {_bug(template)}"
        ) from exc
    finally:
        if sys.modules.get(module_name) is module:
            del sys.modules[module_name]
        if previous is not None:
            sys.modules[module_name] = previous
    log.debug("generated module %s imports on its own", module_name)
    return module


def _line(exc: BaseException, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    return f"line {frames[-1].lineno}: " if frames else ""
