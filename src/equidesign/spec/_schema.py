"""The JSON Schema of spec files, for YAML editors and the spec reference."""

from __future__ import annotations

import typing
from typing import Any

from ._models import DesignSpec, TaskKind
from ._rules import CLASS_TASKS

__all__ = ["SCHEMA_DIALECT", "shorthand_task_kinds", "spec_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def shorthand_task_kinds() -> list[str]:
    """The task kinds that may be written bare (``task: regression``): those needing no other
    field."""
    return [kind for kind in typing.get_args(TaskKind) if kind not in CLASS_TASKS]


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec files, with a description for every field.

    ``task`` accepts a mapping or, as the loader does, a bare task kind that needs no other
    field.
    """
    schema = DesignSpec.model_json_schema()
    task = schema["properties"]["task"]
    ref = {key: task.pop(key) for key in ("$ref",) if key in task}
    task["anyOf"] = [
        ref or {"type": "object"},
        {"type": "string", "enum": shorthand_task_kinds()},
    ]
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "equidesign spec",
        **{key: value for key, value in schema.items() if key != "title"},
    }
