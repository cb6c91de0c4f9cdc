"""Loading specs from a path, YAML text, a dict or a DesignSpec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from equidesign.errors import SpecError
from equidesign.spec import DesignSpec, load_spec

from ._cases import EXAMPLE_SPECS, GOOD, problems_of


@pytest.mark.parametrize("domain", sorted(GOOD))
def test_good_spec_loads_alike_from_path_text_and_dict(domain, tmp_path):
    path = tmp_path / f"{domain}.yaml"
    path.write_text(GOOD[domain])
    from_path = load_spec(path)
    assert from_path.domain == domain
    assert load_spec(str(path)) == from_path
    assert load_spec(GOOD[domain]) == from_path
    assert load_spec(yaml.safe_load(GOOD[domain])) == from_path


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.stem)
def test_example_specs_load_from_path_text_and_dict_alike(path):
    from_path = load_spec(path)
    assert from_path == load_spec(path.read_text())
    assert from_path == load_spec(yaml.safe_load(path.read_text()))


def test_a_design_spec_is_returned_as_is():
    spec = load_spec(GOOD["vector"])
    assert isinstance(spec, DesignSpec)
    assert load_spec(spec) is spec


def test_values_are_normalised():
    spec = load_spec(GOOD["point_cloud"].replace("E3 x Sn", "e(3) × sn"))
    assert spec.group == "E3 x Sn"
    assert spec.group_info.kind == "product" and spec.group_info.space_dim == 3
    assert load_spec(GOOD["image2d"].replace("C4", "c4")).group == "C4"


def test_every_field_is_read():
    spec = load_spec(GOOD["image2d"])
    assert spec.description == "Digits, whatever their rotation.\nSecond line.\n"
    assert (spec.task.kind, spec.task.classes, spec.task.targets) == ("classification", 10, None)
    assert (spec.input.representation, spec.input.size) == ("trivial", 29)
    assert (spec.output.type, spec.output.representation) == ("invariant", None)
    c = spec.constraints
    assert (c.width, c.depth, c.kernel_size, c.max_params, c.dtype, c.seed) == (
        8,
        3,
        5,
        100000,
        "float64",
        7,
    )


def test_defaults_fill_what_is_left_out():
    spec = load_spec(GOOD["set"])
    assert spec.description == ""
    assert spec.input.representation == "trivial"
    assert spec.constraints.model_dump() == {
        "width": 8,
        "depth": 3,
        "kernel_size": 5,
        "max_params": None,
        "dtype": "float32",
        "seed": 0,
        "message_passing": None,
        "nonlinearity": None,
    }


@pytest.mark.parametrize(
    ("task", "kind", "targets"),
    [
        ("regression", "regression", 1),
        ("node_regression", "node_regression", 1),
        ("{kind: regression, targets: 3}", "regression", 3),
    ],
)
def test_task_shorthand_and_default_targets(task, kind, targets):
    spec = load_spec(GOOD["point_cloud"].replace("task: forces", f"task: {task}"))
    assert (spec.task.kind, spec.task.targets) == (kind, targets)


def test_task_shorthand_needing_classes_says_what_to_add():
    text = GOOD["set"].replace("task: regression", "task: classification")
    assert problems_of(text) == [
        "<spec>:4:7: task.classes: required field is missing; add e.g. 'classes: 10' "
        "(classification needs the number of classes)"
    ]


def test_image_size_takes_a_number_or_one_entry_per_axis():
    square = load_spec(GOOD["image2d"])
    assert square.input.size == 29
    wide = load_spec(GOOD["image2d"].replace("size: 29", "size: [29, 33]"))
    assert wide.input.size == [29, 33]
    assert load_spec(GOOD["image3d"]).input.size == [9, 11, 13]


def test_a_string_that_names_an_existing_file_is_a_path_even_with_a_colon(tmp_path):
    path = tmp_path / "odd:name.yaml"
    path.write_text(GOOD["vector"])
    assert load_spec(str(path)).name == "d4_vector"


def test_problems_from_a_file_name_it_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(GOOD["vector"].replace("D4", "D0"))
    assert problems_of("bad.yaml")[0].startswith("bad.yaml:2:8: group: 'D0' is not a group;")
    assert problems_of(Path("bad.yaml"))[0].startswith("bad.yaml:2:8: group:")


def test_missing_file_is_one_problem_naming_the_path():
    assert problems_of("nope.yaml") == ["nope.yaml: no such file 'nope.yaml'"]
    assert problems_of(Path("no/such/spec.yml")) == [
        "no/such/spec.yml: no such file 'no/such/spec.yml'"
    ]


def test_a_folder_is_not_a_spec(tmp_path):
    assert problems_of(tmp_path) == [
        f"{tmp_path}: {str(tmp_path)!r} is a directory; give the path of a spec file (.yaml)"
    ]


def test_a_file_that_is_not_utf8_is_one_problem(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert problems_of(path) == [f"{path}: {str(path)!r} is not UTF-8 text; save the spec as UTF-8"]


def test_a_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD["vector"].encode())
    assert load_spec(path).name == "d4_vector"


def test_other_sources_are_refused():
    with pytest.raises(
        SpecError, match=r"^<spec>: a spec is a path, YAML text or a dict, not int$"
    ):
        load_spec(42)


def test_a_yaml_text_is_parsed_once_as_a_single_document():
    assert problems_of(GOOD["vector"] + "---\nname: other\n")[0].startswith(
        "<spec>:11:1: not valid YAML: but found another document"
    )


def test_yaml_anchors_and_merge_keys_work():
    spec_text = GOOD["vector"].replace(
        "task:\n  kind: regression\n  targets: 2\n",
        "task: &t {kind: regression, targets: 2}\n",
    )
    assert load_spec(spec_text).task.targets == 2
    merged = GOOD["set"].replace(
        "input:\n  channels: 6\n  size: 5\n",
        "input:\n  <<: &common {channels: 6, size: 5}\n  size: 7\n",
    )
    spec = load_spec(merged)
    assert (spec.input.channels, spec.input.size) == (6, 7)


def test_where_a_spec_came_from_is_kept_but_not_compared(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD["vector"])
    from_file, from_dict = load_spec(path), load_spec(yaml.safe_load(GOOD["vector"]))
    assert from_file == from_dict
    assert (from_file.origin.source, from_dict.origin.source) == (str(path), "<spec>")
    assert from_file.origin.problem("input.representation", "m").line == 8
    assert from_file.model_copy().origin.source == str(path)
