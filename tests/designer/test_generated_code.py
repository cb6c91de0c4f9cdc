"""The generated code reads well: every comment says something, docstrings start sentences, the
spec in the docstring shows the fields the family reads, and the layers declare what the class
docstring says they declare.

The checks read the snapshots, which ``test_examples.py`` keeps identical to the generated code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import equidesign as eqd

ROOT = Path(__file__).parents[2]
SNAPSHOTS = sorted((ROOT / "tests" / "snapshots").glob("*.py"))
_EMPTY_COMMENT = re.compile(r"^\s*#\s*(\d+: )?[\w ]+:\s*$")


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_no_comment_is_a_bare_label(path):
    empty = [line for line in path.read_text().splitlines() if _EMPTY_COMMENT.match(line)]
    assert empty == []


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_docstrings_start_with_a_capital_letter(path):
    text = path.read_text()
    starts = re.findall(r'^\s*"""(\w)', text, flags=re.M)
    assert starts and all(c.isupper() or c.isdigit() for c in starts)


@pytest.mark.parametrize("name", ["d4_vector_regression", "c3_vector_mixed_irreps"])
def test_vector_docstring_spec_leaves_out_what_the_family_does_not_read(name):
    text = (ROOT / "tests" / "snapshots" / f"{name}.py").read_text()
    spec_block = text[text.index("Spec (") : text.index("Plan:")]
    assert "kernel_size" not in spec_block and "description: ''" not in spec_block
    # the provenance header still carries the hash of the whole canonical spec
    full = eqd.load_spec(ROOT / "specs" / f"{name}.yaml").spec_hash()
    assert f"(sha256 {full[:16]})" in text


def test_image_docstring_spec_keeps_the_kernel_size():
    text = (ROOT / "tests" / "snapshots" / "c4_image_classifier.py").read_text()
    assert "kernel_size: 5" in text[text.index("Spec (") : text.index("Plan:")]


def test_every_layer_of_an_equivariant_mlp_declares_its_representations():
    model = eqd.design(ROOT / "specs" / "c3_vector_mixed_irreps.yaml").build()
    for layer in [*model.layers, model.head]:
        assert hasattr(layer, "in_rep") and hasattr(layer, "out_rep"), type(layer).__name__
