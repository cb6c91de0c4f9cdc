"""The JSON Schema of spec files, and the spec reference generated from it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic_core import PydanticCustomError

from equidesign.errors import GroupError
from equidesign.groups import parse_group
from equidesign.spec import DesignSpec, SymmetrySpec, spec_json_schema
from equidesign.spec._reference import spec_reference_markdown
from equidesign.spec._values import check_identifier

from ._cases import EXAMPLE_SPECS, GOOD


def _properties(schema: dict) -> list[tuple[str, dict]]:
    """(dotted name, property) of every property, top level and in every definition."""
    out = [(name, prop) for name, prop in schema["properties"].items()]
    for model, definition in schema["$defs"].items():
        out += [(f"{model}.{name}", prop) for name, prop in definition["properties"].items()]
    return out


def test_schema_is_json_with_dialect_and_title():
    schema = spec_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "equidesign spec"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "group", "domain", "task", "output"}


def test_every_field_and_model_has_a_description():
    schema = spec_json_schema()
    missing = [name for name, prop in _properties(schema) if not prop.get("description")]
    assert missing == []
    assert all(d.get("description") for d in schema["$defs"].values())
    assert all(d.get("additionalProperties") is False for d in schema["$defs"].values())


def test_schema_states_the_limits_editors_can_check():
    schema = spec_json_schema()
    constraints = schema["$defs"]["Constraints"]["properties"]
    assert (constraints["width"]["minimum"], constraints["width"]["maximum"]) == (1, 1024)
    assert constraints["kernel_size"]["not"] == {"multipleOf": 2}
    name = schema["properties"]["name"]
    assert name["maxLength"] == 64 and name["pattern"].endswith("[A-Za-z][A-Za-z0-9_]*$")
    assert schema["properties"]["description"]["maxLength"] == 500


def test_task_may_be_written_as_a_bare_kind_that_needs_no_other_field():
    task = spec_json_schema()["properties"]["task"]
    assert task["anyOf"][0] == {"$ref": "#/$defs/TaskSpec"}
    assert task["anyOf"][1] == {
        "type": "string",
        "enum": ["regression", "forces", "energy_forces", "node_regression"],
    }


def test_every_key_of_the_examples_is_in_the_schema():
    schema = spec_json_schema()
    defs = {"task": "TaskSpec", "input": "InputSpec", "output": "OutputSpec"}
    defs["constraints"] = "Constraints"
    texts = [p.read_text() for p in EXAMPLE_SPECS] + list(GOOD.values())
    for text in texts:
        data = yaml.safe_load(text)
        assert set(data) <= set(schema["properties"])
        for key, sub in defs.items():
            if isinstance(data.get(key), dict):
                assert set(data[key]) <= set(schema["$defs"][sub]["properties"])


def test_schema_is_the_models_with_the_task_shorthand_added():
    plain = DesignSpec.model_json_schema()
    schema = spec_json_schema()
    assert schema["$defs"] == plain["$defs"]
    assert {k: v for k, v in schema["properties"].items() if k != "task"} == {
        k: v for k, v in plain["properties"].items() if k != "task"
    }


def test_spec_reference_in_docs_is_generated_from_the_schema():
    path = Path(__file__).parents[2] / "docs" / "spec-reference.md"
    assert path.read_text() == spec_reference_markdown(), (
        "docs/spec-reference.md is stale; regenerate it with the command at its top"
    )


def test_spec_reference_lists_every_field_and_rule():
    text = spec_reference_markdown()
    for name, _ in _properties(spec_json_schema()):
        assert f"{name.split('.')[-1]}`" in text
    assert "`task.kind`: `forces` needs domain `point_cloud`;" in text


NAMES = ["c4_classifier", "A", "classy", "None2", "x" * 64, "x" * 65, "class", "None", "True"]
NAMES += ["lambda", "async", "_x", "1a", "my-model", "naïve", "", "a b", "a.b"]
GROUPS = ["C4", "c4", "C04", "D1", "C256", "D128", "S4096", "SO2", "so(2)", "SO_3", "O3"]
GROUPS += ["SE3", "E3", "Sn", "sn", "tetrahedral", "Octahedral", "ico", "Oh", "full-octahedral"]
GROUPS += ["Ih", "translations", "T2", "E3 x Sn", "E3 × Sn", "C2 x D4", " C4 ", "C0", "D0"]
GROUPS += ["C257", "D129", "S4097", "D-1", "C-4", "C\u0664", "SO4", "Z4", "C1.5", "E3 x S"]
GROUPS += ["E3xSn", "", "C", "class", "C4 x", "x C4"]


def _group_ok(value: str) -> bool:
    try:
        parse_group(value)
    except GroupError:
        return False
    return True


def _name_ok(value: str) -> bool:
    try:
        check_identifier(value)
    except PydanticCustomError:
        return False
    return True


def test_the_name_pattern_flags_what_the_loader_refuses():
    prop = spec_json_schema()["properties"]["name"]
    pattern = re.compile(prop["pattern"])
    flagged = {n for n in NAMES if not (pattern.match(n) and len(n) <= prop["maxLength"])}
    assert flagged == {n for n in NAMES if not _name_ok(n)}
    assert {"class", "None", "lambda"} <= flagged


@pytest.mark.parametrize("model", [DesignSpec, SymmetrySpec])
def test_the_group_pattern_flags_what_the_catalogue_refuses(model):
    pattern = re.compile(model.model_json_schema()["properties"]["group"]["pattern"])
    flagged = {g for g in GROUPS if not pattern.match(g)}
    assert flagged == {g for g in GROUPS if not _group_ok(g)}
    assert {"C0", "D-1", "C257"} <= flagged


@pytest.mark.skipif(shutil.which("node") is None, reason="node checks the ECMA-262 syntax")
def test_the_patterns_are_ecma_regular_expressions_as_editors_read_them():
    props = spec_json_schema()["properties"]
    script = (
        "const [g, n, groups] = JSON.parse(process.argv[1]);"
        "const rg = new RegExp(g, 'u'), rn = new RegExp(n, 'u');"
        "console.log(JSON.stringify([groups.map(x => rg.test(x)), rn.test('class')]));"
    )
    data = json.dumps([props["group"]["pattern"], props["name"]["pattern"], GROUPS])
    out = subprocess.run(["node", "-e", script, data], capture_output=True, text=True, check=True)
    python = re.compile(props["group"]["pattern"])
    assert json.loads(out.stdout) == [[bool(python.match(g)) for g in GROUPS], False]
