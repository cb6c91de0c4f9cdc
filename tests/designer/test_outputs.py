"""``output.representation`` is per class (per target): the model returns one copy per class or
target, and builds exactly what its docstring says; S_n outputs must be trivial."""

from __future__ import annotations

import pytest
import torch

import equidesign as eqd


def _image(group="C4", rep="irrep(1)", classes=3):
    return (
        f"name: seg\ngroup: {group}\ndomain: image2d\ntask:\n  kind: segmentation\n"
        f"  classes: {classes}\ninput:\n  size: 15\noutput:\n  type: equivariant\n"
        f"  representation: {rep}\nconstraints:\n  width: 2\n  depth: 1\n  kernel_size: 3\n"
    )


def _vector(targets=2, rep="irrep(1)"):
    return (
        f"name: vec\ngroup: C3\ndomain: vector\ntask:\n  kind: regression\n  targets: {targets}\n"
        f"input:\n  representation: regular\noutput:\n  type: equivariant\n"
        f"  representation: {rep}\nconstraints:\n  width: 2\n  depth: 1\n"
    )


def _audit_passes(design) -> None:
    model = design.build()
    report = eqd.audit(
        model, design.symmetry, seed=0, layerwise=False, gradients=False, lie_derivative=False
    )
    assert report.verdict == "PASS", report.to_text()


@pytest.mark.parametrize(
    ("group", "rep", "classes", "out_repr", "channels"),
    [
        ("C4", "irrep(1)", 3, "3 x irrep(1)", 6),
        ("D4", "trivial", 3, "3 x trivial", 3),
        # escnn's D1 on the plane is a reflection group of its own (a CyclicGroup of order 2)
        ("D1", "irrep(1,0)", 2, "2 x irrep(1,0)", 2),
        ("D1", "quotient(C1)", 2, "2 x quotient(C1)", 4),
        ("SO2", "trivial + irrep(1)", 2, "trivial + irrep(1) + trivial + irrep(1)", 6),
    ],
)
def test_segmentation_returns_one_field_per_class(group, rep, classes, out_repr, channels):
    design = eqd.design(_image(group, rep, classes))
    assert design.plan.output_repr == out_repr and design.plan.output_dim == channels
    model = design.build().eval()
    assert tuple(model(design.example_input(2)).shape) == (2, channels, 15, 15)
    source = " ".join(design.source.split())
    assert f"(B, {channels}, 15, 15) per-pixel outputs [{out_repr}]" in source
    assert any(d.topic == "output representation" for d in design.plan.decisions)
    _audit_passes(design)


def test_vector_regression_returns_one_copy_per_target():
    design = eqd.design(_vector(targets=2))
    assert design.plan.output_repr == "2 x irrep(1)"
    out = design.build().eval()(design.example_input(3))
    assert tuple(out.shape) == (3, 4)
    _audit_passes(design)


@pytest.mark.parametrize(("domain", "task"), [("set", "regression"), ("graph", "node_regression")])
def test_permutation_outputs_must_be_trivial(domain, task):
    spec = (
        f"name: s\ngroup: Sn\ndomain: {domain}\ntask:\n  kind: {task}\n  targets: 2\n"
        "input:\n  channels: 3\noutput:\n  type: equivariant\n  representation: standard\n"
    )
    with pytest.raises(eqd.EquidesignError, match="output.representation: 'standard'.*trivial"):
        eqd.design(spec)


def test_trivial_multiplicity_multiplies_the_outputs_per_node():
    spec = (
        "name: s\ngroup: Sn\ndomain: graph\ntask:\n  kind: node_regression\n  targets: 3\n"
        "input:\n  channels: 3\n  size: 5\noutput:\n  type: equivariant\n"
        "  representation: 2 x trivial\n"
    )
    design = eqd.design(spec)
    assert design.plan.output_dim == 6
    assert tuple(design.build()(design.example_input(2)).shape) == (10, 6)


def test_forces_other_than_one_vector_per_atom_are_refused():
    spec = (
        "name: f\ngroup: E3\ndomain: point_cloud\ntask:\n  kind: forces\n"
        "input:\n  representation: 2x0e\noutput:\n  type: equivariant\n  representation: 2x1o\n"
    )
    with pytest.raises(eqd.EquidesignError, match="forces are one l=1 vector per atom"):
        eqd.design(spec)


def test_so3_graph_level_vector_output_is_equivariant_not_invariant():
    spec = (
        "name: dipole\ngroup: SO3\ndomain: point_cloud\ntask:\n  kind: regression\n"
        "input:\n  representation: 2x0e\n  size: 8\noutput:\n  type: equivariant\n"
        "  representation: 1x1o\nconstraints:\n  width: 4\n  depth: 1\n"
    )
    design = eqd.design(spec)
    assert design.plan.output_repr == "1x1o" and design.plan.layers[-1].kind == "SumPool"
    model = design.build().eval()
    x = design.example_input(2, seed=1)
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(0)))[0]
    rotation = rotation * torch.linalg.det(rotation)  # a proper rotation
    moved = x.clone()
    moved.pos = x.pos @ rotation.T
    with torch.no_grad():
        y, y_moved = model(x), model(moved)
    assert y.shape == (2, 3) and y.abs().max() > 1e-3
    torch.testing.assert_close(y_moved, y @ rotation.T, atol=1e-5, rtol=1e-4)
    # end to end (the layers are the e3nn family's, tested by the example specs)
    report = eqd.audit(
        model, design.symmetry, seed=0, layerwise=False, gradients=False, lie_derivative=False
    )
    assert report.verdict == "PASS", report.to_text()


def test_high_degree_output_irreps_count_every_component():
    """ "1x10e" is 21 numbers per graph: the degree has two digits, not one."""
    spec = (
        "name: multipole\ngroup: SO3\ndomain: point_cloud\ntask:\n  kind: regression\n"
        "input:\n  representation: 2x0e\n  size: 8\noutput:\n  type: equivariant\n"
        "  representation: 1x10e\nconstraints:\n  width: 4\n  depth: 1\n"
    )
    design = eqd.design(spec)
    assert design.plan.output_repr == "1x10e" and design.plan.output_dim == 21
    with torch.no_grad():
        y = design.build().eval()(design.example_input(2, seed=0))
    assert y.shape == (2, 21)
