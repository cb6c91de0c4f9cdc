"""pydantic's validation errors -> located one-line :class:`~equidesign.errors.Problem` s.

A pydantic error has a location (``('constraints', 'kernel_size')``), a type and the bad input.
Here the location becomes the dotted field and a line and column in the YAML file, and the
message is rewritten to name the bad value and what is allowed. Union fields (``size: int |
list[int]``) give one error per member; they are merged into the one that explains the value.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..errors import Problem
from ._values import short_repr
from ._yaml import Position, locate

__all__ = ["field_info", "invalid_fields", "model_at", "validation_problems"]

#: pydantic type errors -> what was expected
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
}


@dataclass
class _Error:
    path: tuple[str | int, ...]
    union: tuple[str | int, ...] | None  # the path of the union field the error came through
    err: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.err["type"]


# ----------------------------------------------------------------------------- model lookups
def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any]:
    """The members of a union (``None`` left out), or ``[annotation]``."""
    annotation = _strip_annotated(annotation)
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return [_strip_annotated(a) for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _as_model(annotation: Any) -> type[BaseModel] | None:
    members = _members(annotation)
    if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], BaseModel):
        return members[0]
    return None


def model_at(root: type[BaseModel], path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model that holds the fields under ``path`` (``()``: the root model)."""
    model: type[BaseModel] | None = root
    for part in path:
        field = model.model_fields.get(str(part)) if model is not None else None
        model = _as_model(field.annotation) if field is not None else None
    return model


def field_info(root: type[BaseModel], path: tuple[str | int, ...]) -> FieldInfo | None:
    """The field at ``path``, or at its longest prefix that is a field (``size.1`` -> size)."""
    model, info = root, None
    for part in path:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return info
        info, model = field, _as_model(field.annotation)
    return info


def _clean_loc(loc: tuple, root: type[BaseModel]) -> tuple[tuple, tuple | None]:
    """Drop pydantic's union member tags (``'constrained-int'``) from an error location.

    Returns:
        The location as the user wrote it, and the path of the union field it went through.
    """
    out: list[str | int] = []
    model: type[BaseModel] | None = root
    union: tuple | None = None
    tag_next = False
    for part in loc:
        if tag_next and isinstance(part, str):
            tag_next = False
            continue
        tag_next = False
        out.append(part)
        field = (
            model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        )
        model = None
        if field is not None:
            if len(_members(field.annotation)) > 1:
                tag_next, union = True, tuple(out)
            model = _as_model(field.annotation)
    return tuple(out), union


def _all_fields(root: type[BaseModel], prefix: str = "") -> dict[str, list[str]]:
    """Field name -> the dotted paths of the models that have it (``{'width': ['constraints']}``)."""
    out: dict[str, list[str]] = {}
    for name, field in root.model_fields.items():
        out.setdefault(name, []).append(prefix.rstrip("."))
        sub = _as_model(field.annotation)
        if sub is not None:
            for key, where in _all_fields(sub, f"{prefix}{name}.").items():
                out.setdefault(key, []).extend(where)
    return out


def _bounds(info: FieldInfo | None) -> tuple[Any, Any]:
    """The (ge, le) bounds of a field, also those set inside union members."""
    if info is None:
        return None, None
    found: dict[str, Any] = {}
    todo: list[Any] = [*info.metadata, info.annotation]
    while todo:
        item = todo.pop()
        for bound in ("ge", "le"):
            if isinstance(getattr(item, bound, None), int) and not isinstance(item, type):
                found.setdefault(bound, getattr(item, bound))
        if isinstance(item, FieldInfo):
            todo.extend(item.metadata)
        else:
            todo.extend(a for a in get_args(item) if not isinstance(a, str))
    return found.get("ge"), found.get("le")


# ----------------------------------------------------------------------------- messages
def _got(value: Any) -> str:
    return "an empty value" if value is None else short_repr(value)


def _inline_yaml(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return text.removesuffix("\n...\n").strip()


def _example(root: type[BaseModel], path: tuple) -> str:
    info = field_info(root, path)
    if info is None or not info.examples or not path:
        return ""
    return f"; e.g. '{path[-1]}: {_inline_yaml(info.examples[0])}'"


def _unknown_key(path: tuple, root: type[BaseModel]) -> str:
    key = path[-1]
    model = model_at(root, path[:-1])
    allowed = list(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(str(key).lower(), allowed, n=1)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    homes = [p for p in _all_fields(root).get(str(key), []) if p]
    if homes:
        return f"unknown key {key!r} here; it belongs under {' or '.join(map(repr, homes))}"
    return f"unknown key {key!r}; allowed keys: {', '.join(allowed)}"


def _range(value: Any, info: FieldInfo | None, ctx: dict) -> str:
    ge, le = _bounds(info)
    ge = ctx.get("ge", ge)
    le = ctx.get("le", le)
    if ge is not None and le is not None:
        return f"{short_repr(value)} is out of range; use {ge} to {le}"
    if ge is not None:
        return f"{short_repr(value)} is too small; use at least {ge}"
    return f"{short_repr(value)} is too large; use at most {le}"


def _message(error: _Error, root: type[BaseModel]) -> str:
    kind, err, path = error.kind, error.err, error.path
    value, ctx = err.get("input"), err.get("ctx") or {}
    if kind == "spec_value":
        return str(ctx["message"])
    if kind == "missing":
        example = _example(root, path).replace("; e.g.", "; add e.g.", 1)
        return f"required field is missing{example}"
    if kind in ("extra_forbidden", "invalid_key"):
        return _unknown_key(path, root)
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{short_repr(value)} is not one of {expected}"
    if kind in _EXPECTED:
        hint = _example(root, path) if _EXPECTED[kind] == "a mapping" else ""
        if (
            _EXPECTED[kind] == "text"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            hint = "; YAML read the value as a number: put it in quotes" + (
                " (unquoted, an irreps string such as 0x0e reads as a hexadecimal number)"
                if path and str(path[-1]) == "representation"
                else ""
            )
        return f"expected {_EXPECTED[kind]}, got {_got(value)}{hint}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _range(value, field_info(root, path), ctx)
    if kind == "string_too_long":
        return f"{short_repr(value)} has {len(value)} characters; use at most {ctx['max_length']}"
    if kind in ("too_short", "too_long"):
        n = ctx.get("actual_length")
        limit = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"{short_repr(value)} has {n} entries; use {word} {limit}"
    if kind == "recursion_loop":
        return "the value refers to itself (a YAML alias cycle); write it out"
    return str(err["msg"])


def _merge_union(errors: list[_Error]) -> list[_Error]:
    """One error per union field: the member errors that explain the value, or one merged
    'expected X or Y' when the value fits no member's type."""
    out: list[_Error] = []
    groups: dict[tuple, list[_Error]] = {}
    for error in errors:
        if error.union is None:
            out.append(error)
        else:
            groups.setdefault(error.union, []).append(error)
    for union, group in groups.items():
        telling = [e for e in group if len(e.path) > len(union) or e.kind not in _EXPECTED]
        if telling:
            out.extend(telling)
            continue
        nouns = list(dict.fromkeys(_EXPECTED[e.kind] for e in group))
        merged = dict(group[0].err, type="spec_value")
        value = group[0].err.get("input")
        merged["ctx"] = {"message": f"expected {' or '.join(nouns)}, got {_got(value)}"}
        out.append(_Error(union, None, merged))
    return out


# ----------------------------------------------------------------------------- entry point
def _problem(
    path: tuple, message: str, position: Position, root: yaml.Node | None, source: str
) -> Problem:
    line, column = locate(root, path, position)
    return Problem(".".join(map(str, path)), message, source, line, column)


def validation_problems(
    exc: ValidationError, model: type[BaseModel], root: yaml.Node | None, source: str
) -> list[Problem]:
    """One located problem per thing wrong in the spec.

    Args:
        exc: the error from validating ``model``.
        model: the model that was validated (for field names, examples and bounds).
        root: the YAML node tree (``None`` for a dict: problems then have no line).
        source: the file name for problems.
    """
    errors = [_Error(*_clean_loc(e["loc"], model), e) for e in exc.errors(include_url=False)]
    problems: list[Problem] = []
    for error in _merge_union(errors):
        if error.kind == "spec_rules":
            for field, position, message in error.err["ctx"]["problems"]:
                path = error.path + tuple(field.split("."))
                problems.append(_problem(path, message, position, root, source))
            continue
        position = "key" if error.kind in ("extra_forbidden", "invalid_key") else "value"
        problems.append(_problem(error.path, _message(error, model), position, root, source))
    return problems


def invalid_fields(exc: ValidationError, model: type[BaseModel]) -> set[str]:
    """The dotted fields whose own value failed (rule errors left out)."""
    return {
        ".".join(map(str, _clean_loc(e["loc"], model)[0]))
        for e in exc.errors(include_url=False)
        if e["type"] != "spec_rules"
    }
