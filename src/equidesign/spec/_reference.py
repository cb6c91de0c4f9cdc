"""The spec reference (``docs/spec-reference.md``), generated from the JSON Schema and the
rule table."""

from __future__ import annotations

from ._rules import SPEC_RULES
from ._schema import spec_json_schema

__all__ = ["spec_reference_markdown"]


def _type(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        return defs[prop["$ref"].split("/")[-1]].get("title", "object")
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    return prop.get("type", "any")


def _table(schema: dict, defs: dict, prefix: str) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    nested = []
    for name, prop in schema.get("properties", {}).items():
        default = "required" if name in required else f"`{prop.get('default')}`"
        if "default" not in prop and name not in required:
            default = "see below"
        rows.append(
            f"| `{prefix}{name}` | {_type(prop, defs)} | {default} | {prop.get('description', '')} |"
        )
        refs = [p["$ref"] for p in (prop, *prop.get("anyOf", [])) if "$ref" in p]
        if refs:
            nested.append((name, defs[refs[0].split("/")[-1]]))
    out = rows
    for name, sub in nested:
        out += ["", f"### `{prefix}{name}`", ""]
        if sub.get("description"):
            out += [sub["description"], ""]
        out += _table(sub, defs, f"{prefix}{name}.")
    return out


def spec_reference_markdown() -> str:
    """The markdown of ``docs/spec-reference.md``."""
    schema = spec_json_schema()
    defs = schema.get("$defs", {})
    lines = [
        "# Spec reference",
        "",
        "Generated from the JSON Schema (`equidesign schema`); regenerate with",
        '`python -c "from equidesign.spec._reference import spec_reference_markdown as f; '
        "print(f(), end='')\" > docs/spec-reference.md`.",
        "Unknown keys are errors. Every problem is reported on its own line as",
        "`file:line:column: field: message`.",
        "",
        "## Top level",
        "",
    ]
    lines += _table(schema, defs, "")
    lines += [
        "",
        "## Cross-field rules",
        "",
        "Each rule names the field its problem is reported at.",
        "",
    ]
    lines += [f"- `{rule.field}`: {rule.doc};" for rule in SPEC_RULES]
    lines[-1] = lines[-1].removesuffix(";") + "."
    lines.append("")
    return "\n".join(lines)
