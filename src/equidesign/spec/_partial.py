"""Rules across fields, checked on a spec that failed validation elsewhere.

pydantic runs a model's rules only when all of its fields are valid, so a spec with a bad
``constraints.width`` would hide that ``segmentation`` does not run on ``vector``. Here the rules
are checked on the raw data (defaults filled in), skipping every rule that reads a field that
is itself invalid, so that all the problems of a spec come out together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ..errors import Problem
from ._errors import model_at
from ._models import task_shorthand
from ._rules import SPEC_RULES, SpecRule, broken_rules, flatten
from ._yaml import locate

__all__ = ["partial_rule_problems"]


def _defaults(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Dotted path -> default of every optional field, in sub-models too."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = model_at(model, (name,))
        if sub is not None:
            out.update(_defaults(sub, f"{path}."))
        if field.default is not PydanticUndefined:
            out[path] = field.default
    return out


def _tainted(path: str, invalid: Iterable[str]) -> bool:
    return any(
        path == bad or path.startswith(f"{bad}.") or bad.startswith(f"{path}.") for bad in invalid
    )


def partial_rule_problems(
    data: Mapping[str, Any],
    model: type[BaseModel],
    invalid: set[str],
    root: yaml.Node | None,
    source: str,
    rules: Iterable[SpecRule] = SPEC_RULES,
) -> list[Problem]:
    """The broken rules whose fields are all valid, as located problems.

    Args:
        data: the raw spec (a mapping).
        model: the spec's model (for defaults).
        invalid: dotted fields that failed on their own (see ``invalid_fields``).
        root: the YAML node tree, or ``None``.
        source: the file name for problems.
        rules: the rule table.
    """
    raw = dict(data)
    if "task" in raw:
        raw["task"] = task_shorthand(raw["task"])
    values = {**_defaults(model), **flatten(raw)}
    usable = [r for r in rules if not any(_tainted(p, invalid) for p in r.reads)]
    problems = []
    for rule, message in broken_rules(values, usable):
        path = tuple(rule.field.split("."))
        line, column = locate(root, path, rule.position)
        problems.append(Problem(rule.field, message, source, line, column))
    return problems
