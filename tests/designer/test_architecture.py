"""architecture.md follows the design guide's ARCHITECTURE SPECIFICATION: every layer block says
its nonlinearity, the output its aggregation, the code skeleton is the real model class, and
groups the grid does not carry exactly say so."""

from __future__ import annotations

from pathlib import Path

import pytest

import equidesign as eqd

SPECS = Path(__file__).parents[2] / "specs"


@pytest.fixture(scope="module")
def specs():
    names = ("c4_image_classifier", "c8_image_classifier", "d4_vector_regression")
    return {name: eqd.design(SPECS / f"{name}.yaml").architecture_spec() for name in names}


def _block(text: str, start: str) -> str:
    i = text.index(start)
    return text[i : text.index("\n\n", i)]


def test_every_layer_block_names_its_nonlinearity(specs):
    text = specs["c4_image_classifier"]
    block = _block(text, "2. features.0 .. features.2: R2Conv -> InnerBatchNorm -> ReLU")
    assert "- Nonlinearity: Pointwise ReLU (features.2)" in block
    assert "- Normalization: InnerBatchNorm (features.1)" in block
    layers = text[text.index("Layer Specification:") : text.index("Estimated Parameters:")]
    items = [line for line in layers.splitlines() if line[:1].isdigit() and ". " in line]
    nonlinearities = layers.count("   - Nonlinearity: ")
    assert nonlinearities == len(items) - 2  # every item but the input and output layers
    assert "- Nonlinearity: ReLU inside the MLP, on invariant features" in text


def test_the_aggregation_is_precise(specs):
    assert (
        "Aggregation: max over the group (GroupPooling: the largest of each regular field's "
        "channels), then mean over the grid (PointwiseAdaptiveAvgPool2D)"
    ) in specs["c4_image_classifier"]
    assert "Aggregation: norm of each irreducible subspace" in specs["d4_vector_regression"]


def test_the_code_skeleton_is_the_model_class_inside_the_template_block(specs):
    text = specs["c4_image_classifier"]
    fenced = text[text.index("```\nARCHITECTURE") : text.index("```", text.index("NEXT STEPS:"))]
    skeleton = fenced[fenced.index("Code Skeleton:") : fenced.index("NEXT STEPS:")]
    assert "    class C4ImageClassifier(torch.nn.Module):" in skeleton
    assert "enn.R2Conv(in_type, type_1, kernel_size=5, padding=2)" in skeleton
    assert "def forward(self, x: torch.Tensor) -> torch.Tensor:" in skeleton
    assert '"""' not in skeleton and "\n        # " not in skeleton  # no docstrings, comments


def test_off_grid_elements_are_said_to_be_approximate(specs):
    c8 = specs["c8_image_classifier"]
    assert (
        "- Grid: its subgroup C4 (rotations by multiples of 90 degrees) maps the pixel grid" in c8
    )
    assert "45, 135, 225 and 315 degrees are only approximately carried" in c8
    assert "approximate, up to interpolation, for the others" in c8
    assert "- Grid:" not in specs["c4_image_classifier"]
    assert "approximate, up to interpolation" not in specs["c4_image_classifier"]
