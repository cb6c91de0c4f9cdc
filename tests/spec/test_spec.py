"""Specs: loading from a path, text or dict, and one located line per problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from equidesign.errors import SpecError
from equidesign.spec import DesignSpec, load_spec, spec_json_schema

SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))

GOOD = """\
name: demo
group: C4
domain: image2d
task:
  kind: classification
  classes: 10
input:
  size: 29
output:
  type: invariant
"""


def _errors(text: str, name: str = "spec.yaml", tmp_path=None) -> list[str]:
    source = text
    if tmp_path is not None:
        source = tmp_path / name
        source.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(source)
    return str(info.value).splitlines()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_example_specs_load_from_path_text_and_dict_alike(path):
    import yaml

    from_path = load_spec(path)
    assert from_path == load_spec(path.read_text())
    assert from_path == load_spec(yaml.safe_load(path.read_text()))
    assert load_spec(from_path) is from_path


def test_problems_name_file_line_column_field_value_and_fix(tmp_path):
    text = """\
name: demo
group: C0
domain: image
task:
  kind: classification
  classes: 10
input:
  size: 29
output:
  type: invariant
constraints:
  widht: 4
  kernel_size: 4
"""
    lines = _errors(text, tmp_path=tmp_path)
    where = str(tmp_path / "spec.yaml")
    assert lines == [
        f"{where}:2:8: group: 'C0' is not a group; use C<n> with n >= 1, D<n>, SO2, O2, SO3, O3, "
        "SE3, E3, Sn, tetrahedral, octahedral, icosahedral, Oh, Ih, translations, or a product "
        "such as 'E3 x Sn'",
        f"{where}:3:9: domain: 'image' is not one of vector, image2d, image3d, point_cloud, "
        "graph, set",
        f"{where}:12:3: constraints.widht: unknown key 'widht'; did you mean 'width'?",
        f"{where}:13:16: constraints.kernel_size: 4 is even; kernel sizes must be odd: an even "
        "kernel has no centre pixel, so rotations about the centre move it off the grid; use "
        "3, 5 or 7",
    ]


def test_missing_fields_point_at_their_parent():
    lines = _errors(GOOD.replace("  classes: 10\n", ""))
    assert lines == [
        "<spec>:5:3: task.classes: classification needs the number of classes; add e.g. "
        "'classes: 10' under task"
    ]


def test_unknown_top_level_key_lists_close_match():
    lines = _errors(GOOD + "constraint:\n  width: 4\n")
    assert lines == [
        "<spec>:11:1: constraint: unknown key 'constraint'; did you mean 'constraints'?"
    ]


def test_duplicate_keys_are_errors():
    lines = _errors(GOOD + "group: D4\n")
    assert lines == ["<spec>:11:1: group: duplicate key 'group' (first at line 2); keep one"]


def test_yaml_syntax_errors_are_located():
    lines = _errors("name: demo\ngroup: [C4\n")
    assert len(lines) == 1 and lines[0].startswith("<spec>:3:1: not valid YAML")


def test_cross_field_rules_name_the_field():
    text = GOOD.replace("kind: classification\n  classes: 10", "kind: forces")
    lines = _errors(text)
    assert lines == ["<spec>:5:9: task.kind: forces are per-atom vectors; use domain point_cloud"]


def test_images_need_a_size():
    lines = _errors(GOOD.replace("input:\n  size: 29\n", ""))
    assert lines == ["<spec>:1:1: input.size: images need a size; add e.g. 'size: 29' under input"]


@pytest.mark.parametrize(
    "name",
    ["x; import os", "__import__('os')", "class", 'a"""b', "_private", "1abc", "naïve", "a" * 65],
)
def test_hostile_names_are_rejected(name):
    lines = _errors(GOOD.replace("name: demo", f"name: {json.dumps(name)}"))
    assert len(lines) == 1 and "is not a valid name" in lines[0]


def test_control_characters_in_descriptions_are_rejected():
    lines = _errors(GOOD + 'description: "a\\u0007b"\n')
    assert "control characters" in lines[0]


def test_missing_file_is_one_problem():
    with pytest.raises(SpecError, match="no such file 'nope.yaml'"):
        load_spec("nope.yaml")


def test_empty_and_non_mapping_specs():
    assert _errors("\n") == ["<spec>:1:1: the spec is empty; start from an example in specs/"]
    assert "not a list" in _errors("- a\n- b\n")[0]


def test_spec_hash_ignores_key_order_and_formatting():
    import yaml

    data = yaml.safe_load(GOOD)
    reordered = dict(reversed(list(data.items())))
    assert load_spec(data).spec_hash() == load_spec(reordered).spec_hash()
    assert (
        load_spec(GOOD).spec_hash()
        != load_spec(GOOD.replace("classes: 10", "classes: 9")).spec_hash()
    )


def test_task_shorthand_and_regression_default_targets():
    spec = load_spec(
        "name: r\ngroup: D4\ndomain: vector\ntask: regression\ninput:\n  representation: regular\n"
        "output:\n  type: invariant\n"
    )
    assert spec.task.kind == "regression" and spec.task.targets == 1


def test_schema_is_json_with_descriptions():
    schema = spec_json_schema()
    json.dumps(schema)
    assert schema["title"] == "equidesign spec"
    assert "description" in schema["properties"]["group"]
    assert set(schema["required"]) >= {"name", "group", "domain", "task", "output"}


def test_to_yaml_round_trips():
    spec = load_spec(GOOD)
    assert load_spec(spec.to_yaml()) == spec
    assert isinstance(spec, DesignSpec)


def test_loading_a_spec_does_not_import_torch():
    code = (
        f"import sys; import equidesign as eqd; eqd.load_spec({str(SPECS[0])!r}); "
        "assert 'torch' not in sys.modules and 'escnn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_spec_reference_in_docs_is_generated_from_the_schema():
    from equidesign.spec._reference import spec_reference_markdown

    path = Path(__file__).parents[2] / "docs" / "spec-reference.md"
    assert path.read_text() == spec_reference_markdown(), (
        "docs/spec-reference.md is stale; regenerate it with the command at its top"
    )
