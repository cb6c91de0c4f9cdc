"""Where a spec came from, so that an error found after loading (the designer refusing a
combination, a parameter budget it cannot meet) is located like a loading error:
``file:line:column: field: message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import CodegenError, EquidesignError, Problem, SpecError
from ._rules import flatten
from ._values import short_repr
from ._yaml import locate

__all__ = ["SpecOrigin", "locate_error"]


@dataclass(frozen=True, eq=False)
class SpecOrigin:
    """The file (or ``"<spec>"``) a spec was loaded from and its YAML node tree (``None`` for a
    dict). Origins compare equal: where a spec came from is not part of what it says."""

    source: str = "<spec>"
    root: yaml.Node | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpecOrigin)

    __hash__ = None  # type: ignore[assignment]

    def problem(self, field: str, message: str) -> Problem:
        """``message`` about ``field`` (dotted; ``""``: the whole spec), located at its value."""
        path = tuple(field.split(".")) if field else ()
        line, column = locate(self.root, path, "value") if path else (None, None)
        return Problem(field, message, self.source, line, column)


_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.*)$", re.DOTALL)


def _blamed(spec: Any, exc: EquidesignError) -> tuple[str, str]:
    """(field, message without the field) of an error raised about ``spec``.

    The field is the error's ``field`` attribute, else a leading ``"<field>: "`` that names a
    field of the spec; a bare ``"representation: '<value>'"`` is the side whose value it quotes.
    """
    text = str(exc)
    field = getattr(exc, "field", None)
    if field:
        return field, text
    match = _PREFIX.match(text)
    if not match:
        return "", text
    head, rest = match.groups()
    if head == "representation":
        sides = [f"{side}.representation" for side in ("input", "output")]
        for path in sides:
            value = flatten(spec.model_dump()).get(path)
            if isinstance(value, str) and rest.startswith(short_repr(value)):
                return path, rest
        return "", text
    if head in flatten(spec.model_dump()):
        return head, rest
    return "", text


def locate_error(spec: Any, exc: EquidesignError) -> EquidesignError:
    """``exc`` with its message located in the spec's file (changed in place and returned).

    Spec errors are located already, and a code generation error is equidesign's, not the
    spec's; an error naming no field of the spec gets the file alone.
    """
    if isinstance(exc, (SpecError, CodegenError)) or getattr(exc, "problem", None) is not None:
        return exc
    origin = getattr(spec, "origin", None) or SpecOrigin()
    field, message = _blamed(spec, exc)
    problem = origin.problem(field, message)
    exc.problem = problem  # type: ignore[attr-defined]
    exc.args = (str(problem),)
    return exc
