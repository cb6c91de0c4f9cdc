"""Every kind of problem comes out as one exact line: file:line:column: field: message."""

from __future__ import annotations

import pytest

from equidesign.groups import GROUP_NAMES_HELP, REP_NAMES_HELP

from ._cases import BASE, problems_of

# BASE, with line numbers:
#  1 name: demo
#  2 group: C4
#  3 domain: image2d
#  4 task:
#  5   kind: classification
#  6   classes: 10
#  7 input:
#  8   size: 29
#  9 output:
# 10   type: invariant


def _with_constraints(**values: str) -> str:
    return BASE + "constraints:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items())


# ----------------------------------------------------------------------------- bad values
def test_bad_value_is_located_at_the_value_and_names_it(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(BASE.replace("group: C4", "group: C0"))
    assert problems_of(path) == [f"{path}:2:8: group: 'C0' is not a group; {GROUP_NAMES_HELP}"]


def test_text_that_yaml_reads_as_a_number_says_to_quote_it(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        BASE.replace("name: demo", "name: 12").replace(
            "  size: 29", "  size: 29\n  representation: 0x0e"
        )
    )
    assert problems_of(path) == [
        f"{path}:1:7: name: expected text, got 12; YAML read the value as a number: put it in "
        "quotes",
        f"{path}:9:19: input.representation: expected text, got 14; YAML read the value as a "
        "number: put it in quotes (unquoted, an irreps string such as 0x0e reads as a "
        "hexadecimal number)",
    ]


def test_value_not_in_a_fixed_set_lists_the_allowed_ones():
    assert problems_of(BASE.replace("image2d", "image")) == [
        "<spec>:3:9: domain: 'image' is not one of vector, image2d, image3d, point_cloud, "
        "graph, set"
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("five", "'five'"), ("'5'", "'5'"), ("true", "True"), ("3.5", "3.5"), ("8.0", "8.0")],
)
def test_integers_are_strict(value, shown):
    assert problems_of(_with_constraints(width=value)) == [
        f"<spec>:12:10: constraints.width: expected an integer, got {shown}"
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("width", "0", "0 is out of range; use 1 to 1024"),
        ("width", "1025", "1025 is out of range; use 1 to 1024"),
        ("depth", "65", "65 is out of range; use 1 to 64"),
        ("kernel_size", "33", "33 is out of range; use 1 to 31"),
        ("max_params", "0", "0 is too small; use at least 1"),
        ("seed", "-1", "-1 is too small; use at least 0"),
    ],
)
def test_numbers_out_of_range_name_the_allowed_range(field, value, message):
    column = 5 + len(field)
    assert problems_of(_with_constraints(**{field: value})) == [
        f"<spec>:12:{column}: constraints.{field}: {message}"
    ]


def test_even_kernel_says_why_kernels_are_odd():
    assert problems_of(_with_constraints(kernel_size="4")) == [
        "<spec>:12:16: constraints.kernel_size: 4 is even; kernel sizes must be odd: an even "
        "kernel has no centre pixel, so rotations about the centre move it off the grid; use "
        "3, 5 or 7"
    ]


def test_bad_representation_names_the_bad_term():
    text = BASE.replace("input:\n", "input:\n  representation: 3 x regullar\n")
    assert problems_of(text) == [
        "<spec>:8:19: input.representation: '3 x regullar': 'regullar' is not a representation; "
        + REP_NAMES_HELP
    ]


def test_empty_value_is_named_as_such():
    assert problems_of(BASE.replace("name: demo", "name:")) == [
        "<spec>:1:6: name: expected text, got an empty value"
    ]


def test_a_mapping_written_as_something_else_shows_an_example():
    assert problems_of(BASE.replace("task:\n  kind: classification\n  classes: 10", "task: 5")) == [
        "<spec>:4:7: task: expected a mapping, got 5; e.g. 'task: {kind: classification, "
        "classes: 10}'"
    ]


def test_long_values_are_shortened_in_messages():
    lines = problems_of(BASE + f"description: {'a' * 600}\n")
    assert lines == [
        "<spec>:11:14: description: 'aaaaaaaaaaaaaaaaaaaaaaaaaaa...aaaaaaaaaaaaaaaaaaaaaaaaaaaa' "
        "has 600 characters; use at most 500"
    ]


# ----------------------------------------------------------------------------- union fields
@pytest.mark.parametrize(
    ("size", "line"),
    [
        ("abc", "<spec>:8:9: input.size: expected an integer or a list, got 'abc'"),
        ("[29, x]", "<spec>:8:14: input.size.1: expected an integer, got 'x'"),
        ("[29, 2]", "<spec>:8:14: input.size.1: 2 is out of range; use 3 to 4096"),
        ("2", "<spec>:8:9: input.size: 2 is out of range; use 3 to 4096"),
        (
            "[29, 29, 29, 29]",
            "<spec>:8:9: input.size: [29, 29, 29, 29] has 4 entries; use at most 3",
        ),
        (
            "[29, 29, 29]",
            "<spec>:8:9: input.size: image2d takes size H or [H, W], not [29, 29, 29]",
        ),
    ],
)
def test_a_size_gets_one_problem_that_explains_it(size, line):
    assert problems_of(BASE.replace("size: 29", f"size: {size}")) == [line]


# ----------------------------------------------------------------------------- missing fields
def test_missing_field_points_at_the_parent_mapping_with_an_example():
    assert problems_of(BASE.replace("  kind: classification\n", "")) == [
        "<spec>:5:3: task.kind: required field is missing; add e.g. 'kind: classification'"
    ]


def test_missing_top_level_field_points_at_the_document():
    assert problems_of(BASE.replace("output:\n  type: invariant\n", "")) == [
        "<spec>:1:1: output: required field is missing; add e.g. 'output: {type: invariant}'"
    ]


def test_field_required_by_another_points_at_the_parent_and_says_why():
    assert problems_of(BASE.replace("  classes: 10\n", "")) == [
        "<spec>:5:3: task.classes: required field is missing; add e.g. 'classes: 10' "
        "(classification needs the number of classes)"
    ]


# ----------------------------------------------------------------------------- unknown keys
def test_unknown_key_is_located_at_the_key_with_a_close_match():
    assert problems_of(_with_constraints(widht="4")) == [
        "<spec>:12:3: constraints.widht: unknown key 'widht'; did you mean 'width'?"
    ]


def test_unknown_key_matches_ignoring_case():
    assert problems_of(_with_constraints(Width="4")) == [
        "<spec>:12:3: constraints.Width: unknown key 'Width'; did you mean 'width'?"
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    assert problems_of(BASE.replace("  size: 29\n", "  size: 29\n  colour: red\n")) == [
        "<spec>:9:3: input.colour: unknown key 'colour'; allowed keys: representation, size, "
        "channels, edge_channels, atom_types"
    ]


@pytest.mark.parametrize(
    ("key", "where"),
    [("width", "'constraints'"), ("classes", "'task'"), ("representation", "'input' or 'output'")],
)
def test_known_key_at_the_wrong_level_says_where_it_belongs(key, where):
    assert problems_of(BASE + f"{key}: 4\n") == [
        f"<spec>:11:1: {key}: unknown key {key!r} here; it belongs under {where}"
    ]


def test_a_key_that_is_not_text_is_an_unknown_key():
    assert problems_of(BASE + "1: 2\n") == [
        "<spec>:11:1: 1: unknown key 1; allowed keys: name, description, group, domain, task, "
        "input, output, constraints"
    ]


# ----------------------------------------------------------------------------- duplicate keys
def test_duplicate_key_is_an_error_at_the_repeat():
    assert problems_of(BASE + "group: D4\n") == [
        "<spec>:11:1: group: duplicate key 'group' (first at line 2); keep one"
    ]


def test_every_repeat_of_a_nested_key_is_reported():
    assert problems_of(_with_constraints(width="4") + "  width: 5\n  width: 6\n") == [
        "<spec>:13:3: constraints.width: duplicate key 'width' (first at line 12); keep one",
        "<spec>:14:3: constraints.width: duplicate key 'width' (first at line 12); keep one",
    ]


def test_keys_that_differ_only_in_quoting_are_duplicates():
    assert problems_of(BASE + '"name": other\n') == [
        "<spec>:11:1: name: duplicate key 'name' (first at line 1); keep one"
    ]


# ----------------------------------------------------------------------------- the document
@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "name: demo\ngroup: [C4\n",
            "<spec>:3:1: not valid YAML: expected ',' or ']', but got '<stream end>' (while "
            "parsing a flow sequence at line 2, column 8)",
        ),
        (
            "name: demo\ngroup: C4: x\n",
            "<spec>:2:10: not valid YAML: mapping values are not allowed here",
        ),
        (
            'name: "demo\n',
            "<spec>:2:1: not valid YAML: found unexpected end of stream (while scanning a quoted "
            "scalar at line 1, column 7)",
        ),
        (
            "name: demo\n\tgroup: C4\n",
            "<spec>:2:1: not valid YAML: found character '\\t' that cannot start any token; "
            "indent with spaces",
        ),
        ("a: &x 1\nb: *y\n", "<spec>:2:4: not valid YAML: found undefined alias 'y'"),
    ],
)
def test_yaml_syntax_error_is_one_located_problem(text, line):
    assert problems_of(text) == [line]


def test_python_tags_are_refused_without_running_anything():
    assert problems_of("!!python/object/apply:os.system ['echo hacked']\n") == [
        "<spec>:1:1: the tag '!!python/object/apply:os.system' is not allowed; a spec holds "
        "plain values"
    ]


@pytest.mark.parametrize("text", ["", "   ", "# only a comment\n", "---\n"])
def test_empty_spec_is_one_problem(text):
    assert problems_of(text) == [
        "<spec>:1:1: the spec is empty; write at least name, group, domain, task and output"
    ]


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list ['a', 'b']"), ("42\n", "int 42")])
def test_a_spec_that_is_not_a_mapping_is_one_problem(text, kind):
    assert problems_of(text) == [f"<spec>:1:1: a spec is a mapping of keys, not {kind}"]


def test_huge_text_is_refused_before_parsing():
    lines = problems_of("a: 1\n" * 300_000)
    assert lines == [
        "<spec>: the text has 1,500,000 characters; a spec is a short file (at most 1,000,000)"
    ]


def test_aliases_that_refer_to_themselves_do_not_hang():
    lines = problems_of(BASE + "constraints: &c {width: *c}\n")
    # an alias has no position of its own: the anchored value's is reported
    assert lines == [
        "<spec>:11:14: constraints.width: expected an integer, got {'width': {'width': {...}}}"
    ]


def test_alias_bombs_are_cheap():
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)
    )
    lines = problems_of(BASE + bomb)
    assert len(lines) == 9 and all("unknown key" in line for line in lines)


# ----------------------------------------------------------------------------- many at once
def test_every_problem_comes_out_together_sorted_by_position():
    text = """\
name: 2nd model
group: C0
domain: image2d
task:
  kind: segmentation
  classes: 1
  targets: 3
input:
  representation: 3 x regullar
  size: [29, 30, 31]
output:
  type: invariant
  representation: regular
constraints:
  widht: 8
  kernel_size: 4
  dtype: float16
  dtype: float64
"""
    assert problems_of(text) == [
        "<spec>:1:7: name: '2nd model' is not a valid name: it is not a Python identifier; use "
        "a Python identifier of ASCII letters, digits and underscores that starts with a "
        "letter, at most 64 characters, e.g. 'c4_classifier'",
        f"<spec>:2:8: group: 'C0' is not a group; {GROUP_NAMES_HELP}",
        "<spec>:6:12: task.classes: 1 is too small; use at least 2",
        "<spec>:7:3: task.targets: segmentation predicts classes, not targets; remove 'targets'",
        "<spec>:9:19: input.representation: '3 x regullar': 'regullar' is not a representation; "
        + REP_NAMES_HELP,
        "<spec>:10:9: input.size: image2d takes size H or [H, W], not [29, 30, 31]",
        "<spec>:12:9: output.type: segmentation needs 'type: equivariant', not 'invariant': "
        "per-pixel labels move with the image; use 'representation: trivial' for class scores",
        "<spec>:13:3: output.representation: an invariant output has no representation (the "
        "group does not change it); remove 'representation' or use 'type: equivariant'",
        "<spec>:15:3: constraints.widht: unknown key 'widht'; did you mean 'width'?",
        "<spec>:16:16: constraints.kernel_size: 4 is even; kernel sizes must be odd: an even "
        "kernel has no centre pixel, so rotations about the centre move it off the grid; use "
        "3, 5 or 7",
        "<spec>:18:3: constraints.dtype: duplicate key 'dtype' (first at line 17); keep one",
    ]


def test_rules_across_fields_are_checked_when_other_fields_are_bad():
    text = BASE.replace("image2d", "vector").replace("classification", "segmentation")
    assert problems_of(_with_constraints(width="0").replace(BASE, text)) == [
        "<spec>:5:9: task.kind: segmentation needs domain image2d or image3d, not 'vector': it "
        "labels every pixel",
        "<spec>:8:3: input.size: a vector has no size (its dimension is its representation's); "
        "remove 'size'",
        "<spec>:10:9: output.type: segmentation needs 'type: equivariant', not 'invariant': "
        "per-pixel labels move with the image; use 'representation: trivial' for class scores",
        "<spec>:12:10: constraints.width: 0 is out of range; use 1 to 1024",
    ]


def test_rules_reading_a_bad_field_stay_quiet():
    # domain is bad: the rules that read it would only guess
    assert problems_of(BASE.replace("domain: image2d", "domain: picture")) == [
        "<spec>:3:9: domain: 'picture' is not one of vector, image2d, image3d, point_cloud, "
        "graph, set"
    ]


def test_a_dict_gives_the_same_problems_without_positions():
    data = {
        "name": "demo",
        "group": "C0",
        "domain": "image",
        "task": "classification",
        "output": {"type": "invariant"},
    }
    assert problems_of(data) == [
        f"<spec>: group: 'C0' is not a group; {GROUP_NAMES_HELP}",
        "<spec>: domain: 'image' is not one of vector, image2d, image3d, point_cloud, graph, set",
        "<spec>: task.classes: required field is missing; add e.g. 'classes: 10' "
        "(classification needs the number of classes)",
    ]


def test_messages_carry_no_pydantic_boilerplate():
    text = "name: 1\ngroup: 2\ndomain: 3\ntask: [4]\ninput: 5\noutput: 6\nconstraints: 7\n"
    lines = problems_of(text)
    assert len(lines) == 7
    for line in lines:
        assert (
            "pydantic" not in line and "Input should" not in line and "errors.pydantic" not in line
        )
