"""Formatting generated source with ruff, the same way on every machine."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys

from ..errors import CodegenError

__all__ = ["LINE_LENGTH", "format_source"]

log = logging.getLogger(__name__)

LINE_LENGTH = 100
_TIMEOUT_S = 120

# ``--isolated`` ignores every ruff configuration file, so the output does not depend on the
# folder equidesign runs in; the settings that shape the output are pinned here instead.
_RUFF_FORMAT = (
    "format",
    "--isolated",
    "--line-length",
    str(LINE_LENGTH),
    "--target-version",
    "py310",
    "--config",
    'format.line-ending = "lf"',
)


def format_source(code: str, *, filename: str = "model.py") -> str:
    """Format Python source with ``ruff format`` (line length 100).

    The result depends only on ``code`` and the installed ruff version: configuration files in
    the working folder are ignored, and formatting twice gives the same text.

    Args:
        code: Python source.
        filename: the name the source will have; it appears in error messages and tells ruff
            whether the source is a stub (``.pyi``).

    Returns:
        The formatted source.

    Raises:
        CodegenError: ruff is not installed, or it refused the source (the message names the
            file and quotes ruff's first error line).
    """
    if importlib.util.find_spec("ruff") is None:
        raise CodegenError(
            "ruff is not installed; equidesign formats generated code with it: pip install ruff"
        )
    command = [sys.executable, "-m", "ruff", *_RUFF_FORMAT, "--stdin-filename", filename, "-"]
    try:
        proc = subprocess.run(
            command,
            input=code.encode("utf-8"),
            capture_output=True,
            check=False,
            timeout=_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise CodegenError(
            f"generated {filename} could not be formatted: ruff took more than {_TIMEOUT_S} s"
        ) from exc
    except UnicodeEncodeError as exc:
        raise CodegenError(
            f"generated {filename} could not be formatted: it holds text that is not valid "
            f"unicode ({exc.reason}) — this is a bug in equidesign, please report it"
        ) from exc
    if proc.returncode != 0:
        raise CodegenError(
            f"generated {filename} could not be formatted: {_first_error(proc.stderr)} "
            "— this is a bug in equidesign, please report it"
        )
    log.debug("formatted %s with ruff (%d characters)", filename, len(code))
    return proc.stdout.decode("utf-8")


def _first_error(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    first = next((line for line in lines if line), "ruff failed without a message")
    return first.removeprefix("error: ")
