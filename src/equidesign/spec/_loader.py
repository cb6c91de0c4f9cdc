"""Loading specs from a path, YAML text or a dict, with one located problem per line.

YAML is parsed twice with the safe loader: ``yaml.compose`` gives the node tree (with line and
column marks, and duplicate keys that ``safe_load`` would silently merge), ``yaml.safe_load``
the data. pydantic's errors are mapped back onto the nodes and rewritten as
``file:line:col: field: message`` lines.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem, SpecError
from ._models import DesignSpec

__all__ = ["load_model", "load_spec", "spec_json_schema"]


# ----------------------------------------------------------------------------- YAML nodes
def _mark(node: yaml.Node | None) -> tuple[int | None, int | None]:
    if node is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) of ``part`` under ``node``."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in reversed(node.value):
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None, None


def _walk(root: yaml.Node | None, path: list[str | int]) -> tuple[yaml.Node | None, ...]:
    """(deepest node reached, its key node, whether the whole path was found)."""
    node, key = root, None
    for part in path:
        k, v = _child(node, part)
        if v is None:
            return node, key, False
        node, key = v, k
    return node, key, True


def _duplicates(node: yaml.Node | None, source: str, prefix: str = "") -> list[Problem]:
    out: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            field = f"{prefix}{name}"
            if name in seen:
                line, col = _mark(key)
                out.append(
                    Problem(
                        field,
                        f"duplicate key {name!r} (first at line {_mark(seen[name])[0]}); keep one",
                        source,
                        line,
                        col,
                    )
                )
            seen[name] = key
            out += _duplicates(value, source, f"{field}.")
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicates(item, source, f"{prefix}{i}.")
    return out


# ----------------------------------------------------------------------------- pydantic errors
def _model_at(path: list[str | int], root: type[BaseModel]) -> type[BaseModel] | None:
    model: Any = root
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        candidates = [a for a in (ann, *get_args(ann)) if isinstance(a, type)]
        model = next((a for a in candidates if issubclass(a, BaseModel)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _clean_loc(loc: tuple) -> list[str | int]:
    """Drop pydantic's union-branch names (``int``, ``list[int]``) from an error location."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (
            "[" in part or part in ("int", "str", "list", "function-after")
        ):
            continue
        out.append(part)
    return out


def _message(err: dict, path: list[str | int], root_model: type[BaseModel]) -> str:
    kind, value = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        example = {"classes": "10", "name": "my_model", "group": "C4", "domain": "image2d"}
        hint = (
            f"; add e.g. '{path[-1]}: {example[path[-1]]}'" if path and path[-1] in example else ""
        )
        return f"required field is missing{hint}"
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], root_model)
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key {path[-1]!r}; {fix}"
    if kind == "literal_error":
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"{value!r} is not one of {expected}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, got {value!r}"
    if kind in ("string_type",):
        return f"expected text, got {value!r}"
    if kind in ("list_type",):
        return f"expected a list, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = next(iter(ctx.values()), "")
        word = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(kind, kind)
        return f"{value!r} is out of range; use a value {word} {bound}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _problems(
    exc: ValidationError, root: yaml.Node | None, source: str, model: type[BaseModel]
) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        path = _clean_loc(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "spec_cross":
            for field, msg in zip(ctx["fields"], err["msg"].split("\n"), strict=True):
                sub = path + field.split(".")
                node, _, _ = _walk(root, sub)
                problems.append(Problem(".".join(map(str, sub)), msg, source, *_mark(node)))
            continue
        if err["type"] in ("spec_missing", "spec_forbidden"):
            path = path + [ctx["field"]]
        node, key, found = _walk(root, path)
        if err["type"] in ("extra_forbidden", "spec_forbidden") and found:
            node = key  # point at the key that should not be there
        value = err.get("input")
        msg = _message(err, path, model)
        if err["type"] == "value_error" and isinstance(value, str) and f"{value!r}" not in msg:
            msg = f"{value!r}: {msg}"
        problems.append(Problem(".".join(map(str, path)), msg, source, *_mark(node)))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


# ----------------------------------------------------------------------------- entry points
def _read(source: Any) -> tuple[str | None, str, Any]:
    """(yaml text or None, source label, data if not text)."""
    if isinstance(source, dict):
        return None, "<spec>", source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and ":" not in source
    ):
        path = Path(source)
        try:
            return path.read_text(encoding="utf-8"), str(source), None
        except FileNotFoundError:
            raise SpecError([Problem("", f"no such file {str(source)!r}", str(source))]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError([Problem("", f"cannot read the spec: {exc}", str(source))]) from None
    if isinstance(source, str):
        return source, "<spec>", None
    raise SpecError(
        [Problem("", f"a spec is a path, YAML text or a dict, not {type(source).__name__}")]
    )


def load_model(model: type[BaseModel], source: Any, what: str = "spec") -> Any:
    """Load and validate ``model`` from a path, YAML text or a dict, with located problems."""
    if isinstance(source, model):
        return source
    text, label, data = _read(source)
    root = None
    if text is not None:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError([Problem("", f"not valid YAML: {problem}", label, line, col)]) from None
        duplicates = _duplicates(root, label)
        if duplicates:
            raise SpecError(duplicates)
    if data is None:
        raise SpecError(
            [Problem("", f"the {what} is empty; start from an example in specs/", label, 1, 1)]
        )
    if not isinstance(data, dict):
        raise SpecError(
            [
                Problem(
                    "",
                    f"a {what} is a mapping of keys, not a {type(data).__name__}",
                    label,
                    1,
                    1,
                )
            ]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(exc, root, label, model)) from None


def load_spec(source: Any) -> DesignSpec:
    """Load and validate a spec from a path, YAML text, a dict, or a DesignSpec.

    Raises:
        SpecError: one :class:`~equidesign.errors.Problem` per problem, each with the file,
            line, column, field, bad value and what is allowed.
    """
    return load_model(DesignSpec, source, "spec")


def spec_json_schema() -> dict:
    """The JSON Schema of spec files, for YAML editors."""
    schema = DesignSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "equidesign spec"
    return schema
