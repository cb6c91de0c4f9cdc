"""Safe YAML parsing that keeps the node tree, to locate problems by line and column.

The text is parsed once with PyYAML's ``SafeLoader``: composed into nodes (with marks), checked
for duplicate keys (which ``safe_load`` silently resolves to the last one), then constructed
into plain data. Nothing but plain YAML types can come out: tags such as ``!!python/object``
are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from yaml.constructor import SafeConstructor

from ..errors import Problem, SpecError

__all__ = ["MAX_SPEC_CHARS", "YamlDocument", "locate", "parse_yaml"]

#: specs are a few hundred characters; this bounds the work a hostile file can cause
MAX_SPEC_CHARS = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
Position = Literal["value", "key"]


@dataclass
class YamlDocument:
    """A parsed spec: its node tree (``None`` for an empty text), its data, and problems found
    while parsing that do not stop validation (duplicate keys)."""

    root: yaml.Node | None
    data: Any
    problems: list[Problem] = field(default_factory=list)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _key_value(key: yaml.Node) -> Any:
    """The Python value of a key node (``1`` and ``"1"`` are different keys, as in YAML)."""
    if isinstance(key, yaml.ScalarNode):
        try:
            return SafeConstructor().construct_object(key, deep=True)
        except yaml.YAMLError:
            return key.value
    return None  # not a scalar: pydantic reports it; no path can lead through it


def _duplicates(root: yaml.Node | None, source: str) -> list[Problem]:
    problems: list[Problem] = []
    seen_nodes: set[int] = set()  # aliases share nodes; visit each once (and survive cycles)
    stack: list[tuple[yaml.Node, str]] = [(root, "")] if root is not None else []
    while stack:
        node, prefix = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    continue
                name = _key_value(key)
                path = f"{prefix}{name}"
                try:
                    earlier = first.setdefault(name, key)
                except TypeError:  # an unhashable key: the constructor refuses it later
                    continue
                if earlier is not key:
                    line, column = _mark(key)
                    problems.append(
                        Problem(
                            path,
                            f"duplicate key {name!r} (first at line {_mark(earlier)[0]}); keep one",
                            source,
                            line,
                            column,
                        )
                    )
                stack.append((value, f"{path}."))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{prefix}{i}.") for i, item in enumerate(node.value))
    return problems


def _syntax_problem(exc: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "could not determine a constructor" in problem:
        tag = problem.rsplit(" ", 1)[-1].replace("tag:yaml.org,2002:", "!!")
        return Problem(
            "", f"the tag {tag} is not allowed; a spec holds plain values", source, line, column
        )
    if "'\\t'" in problem:
        problem += "; indent with spaces"
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and start is not mark:
        problem += f" ({context} at line {start.line + 1}, column {start.column + 1})"
    return Problem("", f"not valid YAML: {problem}", source, line, column)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse ``text`` safely into nodes and data.

    Args:
        text: the YAML text.
        source: the file name for problems (``"<spec>"`` for text).

    Returns:
        The document; ``problems`` holds duplicate keys.

    Raises:
        SpecError: for text that is not YAML, more than one document, or an oversized text.
    """
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(
            [
                Problem(
                    "",
                    f"the text has {len(text):,} characters; a spec is a short file (at most "
                    f"{MAX_SPEC_CHARS:,})",
                    source,
                )
            ]
        )
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        duplicates = _duplicates(root, source)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_problem(exc, source)]) from None
    except RecursionError:
        raise SpecError(
            [Problem("", "not valid YAML: nested too deeply for a spec", source)]
        ) from None
    finally:
        loader.dispose()
    return YamlDocument(root, data, duplicates)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    """(key node, value node) of ``part`` under ``node``; ``None`` when there is none."""
    if isinstance(node, yaml.MappingNode):
        for key, value in reversed(node.value):  # the last of equal keys is the one kept
            name = _key_value(key)
            if name == part or (isinstance(part, str) and str(name) == part):
                return key, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return None, node.value[part]
    return None


def locate(
    root: yaml.Node | None, path: tuple[str | int, ...], position: Position = "value"
) -> tuple[int | None, int | None]:
    """1-based (line, column) of the value (or key) at ``path``.

    When the path leads nowhere (a missing field), the deepest mapping it reaches is reported:
    that is where the field belongs.
    """
    if root is None:
        return None, None
    node: yaml.Node = root
    key: yaml.Node | None = None
    for part in path:
        found = _child(node, part)
        if found is None:
            return _mark(node)
        key, node = found
    if position == "key" and key is not None:
        return _mark(key)
    return _mark(node)
