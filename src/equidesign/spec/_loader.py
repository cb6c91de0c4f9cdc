"""Loading specs from a path, YAML text or a dict, with one located problem per line.

Every problem of a spec is collected into one :class:`~equidesign.errors.SpecError`: duplicate
keys, each invalid value, unknown keys and broken rules across fields, sorted by position, each
formatted ``file:line:column: field: message``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import Problem, SpecError
from ._errors import invalid_fields, validation_problems
from ._models import DesignSpec
from ._origin import SpecOrigin
from ._partial import partial_rule_problems
from ._rules import SPEC_RULES, SpecRule
from ._values import join_words, short_repr
from ._yaml import parse_yaml

__all__ = ["load_model", "load_spec"]

TEXT_SOURCE = "<spec>"
M = TypeVar("M", bound=BaseModel)


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long for a path, or a NUL character
        return False


def _read_file(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        message = f"no such file {label!r}"
    except IsADirectoryError:
        message = f"{label!r} is a directory; give the path of a spec file (.yaml)"
    except UnicodeDecodeError:
        message = f"{label!r} is not UTF-8 text; save the spec as UTF-8"
    except OSError as exc:
        message = f"cannot read {label!r}: {exc.strerror or exc}"
    raise SpecError([Problem("", message, label)])


def _text_or_data(source: Any, what: str) -> tuple[str | None, Any, str]:
    """(YAML text or ``None``, data when not text, label for problems)."""
    if isinstance(source, Mapping):
        return None, source, TEXT_SOURCE
    if isinstance(source, str) and not _is_file(source):
        if not source.strip() or "\n" in source or ":" in source:
            return source, None, TEXT_SOURCE
    if isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        if isinstance(label, bytes):
            label = os.fsdecode(label)
        return _read_file(Path(label), label), None, label
    raise SpecError(
        [
            Problem(
                "",
                f"a {what} is a path, YAML text or a dict, not {type(source).__name__}",
                TEXT_SOURCE,
            )
        ]
    )


def _top_level(
    data: Any, model: type[BaseModel], what: str, label: str, duplicates: list[Problem]
) -> None:
    if data is None:
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        message = f"the {what} is empty; write at least {join_words(required)}"
    elif not isinstance(data, Mapping):
        message = f"a {what} is a mapping of keys, not {type(data).__name__} {short_repr(data)}"
    else:
        return
    raise SpecError([*duplicates, Problem("", message, label, 1, 1)])


def _dedupe_sorted(problems: Iterable[Problem]) -> list[Problem]:
    """Each problem once (a rule can be found by its model and again on partial data), by
    position; problems without one (a dict) keep pydantic's order, which follows the fields."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0, p.column or 0))


def load_model(
    model: type[M],
    source: Any,
    what: str = "spec",
    rules: Iterable[SpecRule] = (),
) -> M:
    """Load and validate ``model`` from a path, YAML text, a mapping, or an instance.

    Args:
        model: the pydantic model of the file.
        source: a path (str or path-like), YAML text, a mapping, or an instance (returned).
        what: what the file is called in messages ("spec", "symmetry file").
        rules: the model's rules across fields, checked on partly valid input too.

    Raises:
        SpecError: with every problem found, one located line each.
    """
    if isinstance(source, model):
        return source
    text, data, label = _text_or_data(source, what)
    root, problems = None, []
    if text is not None:
        document = parse_yaml(text, label)
        root, data, problems = document.root, document.data, document.problems
    _top_level(data, model, what, label, problems)
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, model, root, label)
        invalid = invalid_fields(exc, model)
        problems += partial_rule_problems(data, model, invalid, root, label, rules)
    if problems:
        raise SpecError(_dedupe_sorted(problems))
    if hasattr(result, "_origin"):  # errors found later are located in this text too
        result._origin = SpecOrigin(label, root)
    return result


def load_spec(source: Any) -> DesignSpec:
    """Load and validate a design spec.

    Args:
        source: a path (``str`` or :class:`pathlib.Path`) of a YAML file; YAML text (a ``str``
            that is not an existing file and has a newline or a colon, or is blank); a dict;
            or a :class:`DesignSpec`, returned as is.

    Returns:
        The validated spec.

    Raises:
        SpecError: every problem at once, one line each, formatted
            ``file:line:column: field: message`` (``<spec>`` for text and dicts; no line and
            column for dicts).

    >>> load_spec("name: demo\\ngroup: c4\\ndomain: vector\\ntask: regression\\n"
    ...           "output: {type: invariant}").group
    'C4'
    """
    return load_model(DesignSpec, source, "spec", SPEC_RULES)
