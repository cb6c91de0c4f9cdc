"""Hostile and odd values: names become Python identifiers, descriptions stay printable."""

from __future__ import annotations

import json

import pytest

from equidesign.spec import load_spec

from ._cases import BASE, problems_of

_FIX = (
    "use a Python identifier of ASCII letters, digits and underscores that starts with a "
    "letter, at most 64 characters, e.g. 'c4_classifier'"
)


@pytest.mark.parametrize(
    ("name", "defect"),
    [
        ("x; import os", "it is not a Python identifier"),
        ("__import__('os')", "it is not a Python identifier"),
        ("os.system", "it is not a Python identifier"),
        ('a"""b', "it is not a Python identifier"),
        ("a\nb", "it is not a Python identifier"),
        ("class", "it is a Python keyword"),
        ("None", "it is a Python keyword"),
        ("_private", "it starts with '_'"),
        ("__init__", "it starts with '_'"),
        ("1abc", "it is not a Python identifier"),
        ("my-model", "it is not a Python identifier"),
        ("naïve", "it has non-ASCII characters"),
        ("ｎａｍｅ", "it has non-ASCII characters"),
        ("", "it is empty"),
        ("a" * 65, "it has 65 characters"),
    ],
)
def test_hostile_names_are_rejected_by_the_identifier_rule(name, defect):
    lines = problems_of(BASE.replace("name: demo", f"name: {json.dumps(name)}"))
    shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:28] + "..." + repr(name)[-29:]
    assert lines == [f"<spec>:1:7: name: {shown} is not a valid name: {defect}; {_FIX}"]


@pytest.mark.parametrize("name", ["a", "c4_classifier", "Model2", "a" * 64, "match", "type"])
def test_plain_identifiers_are_names(name):
    assert load_spec(BASE.replace("name: demo", f"name: {name}")).name == name


@pytest.mark.parametrize(
    "description",
    ['"""; import os; """', "it's \\\\ 'quoted' \"twice\"", "{{ jinja }} {% raw %}", "ünïcödé ✓"],
)
def test_descriptions_may_hold_any_printable_text(description):
    text = BASE + f"description: {json.dumps(description)}\n"
    assert load_spec(text).description == description


@pytest.mark.parametrize(
    ("escaped", "code", "what", "position"),
    [
        ("a\\u0007b", "0007", "a control character", 1),
        ("tab\\there", "0009", "a control character", 3),
        ("cr\\rhere", "000D", "a control character", 2),
        ("abc\\u202edef", "202E", "right-to-left override", 3),
        ("zero\\u200bwidth", "200B", "zero width space", 4),
        ("line\\u2028sep", "2028", "line separator", 4),
    ],
)
def test_control_and_invisible_characters_in_descriptions_are_rejected(
    escaped, code, what, position
):
    lines = problems_of(BASE + f'description: "{escaped}"\n')
    assert len(lines) == 1
    assert lines[0].startswith("<spec>:11:14: description: ")
    assert lines[0].endswith(
        f" contains U+{code} ({what}) at position {position}; use printable text and newlines"
    )


def test_newlines_in_descriptions_are_kept():
    text = BASE + "description: |\n  one\n  two\n"
    assert load_spec(text).description == "one\ntwo\n"
