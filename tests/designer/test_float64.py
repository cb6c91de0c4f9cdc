"""``constraints.dtype: float64``: every family builds, runs and audits in float64.

escnn modules cannot be built under a float64 default dtype; the generated ``build_model``
builds them in float32 and converts the model, and casts where escnn allocates float32 outputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import equidesign as eqd

SPECS = Path(__file__).parents[2] / "specs"

#: one example per family, made small so that the audit takes a second or two
FAMILIES = {
    "c4_image_classifier": {"width": 2, "depth": 2},  # G-CNN, GroupPooling
    "d4_segmentation": {"width": 2, "depth": 1},  # G-CNN, dense head
    "so2_image_classifier": {"width": 2, "depth": 1},  # steerable, NormPool
    "o3_voxel_classifier": {"width": 1, "depth": 1, "kernel_size": 3},  # voxels, NormPool
    "d4_vector_regression": {"width": 2, "depth": 1},  # equivariant MLP
    "se3_shape_classifier": {"width": 4, "depth": 1},  # e3nn
    "sn_graph_classification": {"width": 8, "depth": 1},  # PyG
    "sn_set_regression": {"width": 8, "depth": 1},  # DeepSets
}


def _float64_spec(name: str) -> dict:
    spec = yaml.safe_load((SPECS / f"{name}.yaml").read_text())
    spec["constraints"] = {**spec.get("constraints", {}), **FAMILIES[name], "dtype": "float64"}
    if spec["domain"] == "image3d":
        spec["input"]["size"] = 9
    return spec


def _float64_tensors(x) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x] if x.is_floating_point() else []
    return [v for v in (getattr(x, k, None) for k in ("x", "pos", "edge_attr")) if v is not None]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_float64_model_runs_trains_and_audits_in_float64(name):
    design = eqd.design(_float64_spec(name))
    model = design.build()
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    x = design.example_input(batch=2, seed=1)
    assert {t.dtype for t in _float64_tensors(x)} == {torch.float64}
    out = model(x)
    assert out.dtype == torch.float64
    out.pow(2).mean().backward()
    report = eqd.audit(
        model, design.symmetry, seed=0, layerwise=False, gradients=False, lie_derivative=False
    )
    assert report.verdict == "PASS", report.to_text()


@pytest.mark.parametrize("name", ["d4_segmentation", "so2_image_classifier"])
def test_a_float64_model_leaves_float32_models_of_the_same_layers_alone(name):
    # escnn shares kernel bases between convolutions; converting a shared one to float64 would
    # break every float32 model built from it afterwards
    eqd.design(_float64_spec(name)).build()
    spec = _float64_spec(name)
    spec["constraints"]["dtype"] = "float32"
    design = eqd.design(spec)
    assert design.build()(design.example_input(2)).dtype == torch.float32
