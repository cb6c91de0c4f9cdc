"""The templates hold no logic: every choice is made by the view-model classes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import equidesign.templates as templates

TEMPLATES = sorted(Path(templates.__file__).parent.glob("*.j2"))
_TAG = re.compile(r"{%-?\s*(\w+)(.*?)-?%}")
_EXPRESSION = re.compile(r"{{-?\s*(.*?)\s*-?}}")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_only_loop_include_and_substitute(path):
    text = path.read_text()
    tags = {keyword for keyword, _ in _TAG.findall(text)}
    assert tags <= {"for", "endfor", "include"}, f"{path.name}: logic tags {tags}"
    for keyword, rest in _TAG.findall(text):
        if keyword == "for":  # a plain loop over a prepared list, no filters or conditions
            assert re.fullmatch(r"\s*\w+ in [\w.]+\s*", rest), f"{path.name}: for{rest}"
    for expression in _EXPRESSION.findall(text):
        assert re.fullmatch(r"[\w.]+", expression), f"{path.name}: {{{{ {expression} }}}}"
