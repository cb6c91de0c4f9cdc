"""The rule table: data, refusals with reasons, and families without templates yet."""

from __future__ import annotations

import pytest

import equidesign as eqd
from equidesign.designer import RULES, plan_for, select_rule
from equidesign.errors import DesignError, UnsupportedFamilyError
from equidesign.groups import parse_group


def _spec(group, domain, task="kind: classification\n  classes: 3", extra=""):
    size = "input:\n  size: 15\n" if domain in ("image2d", "image3d") else ""
    if domain in ("set", "graph"):
        size = "input:\n  channels: 4\n"
    return (
        f"name: m\ngroup: {group}\ndomain: {domain}\ntask:\n  {task}\n{size}"
        f"output:\n  type: invariant\n{extra}"
    )


@pytest.mark.parametrize(
    "group, domain, family, library",
    [
        ("C4", "image2d", "regular-field G-CNN", "escnn"),
        ("D8", "image2d", "regular-field G-CNN", "escnn"),
        ("SO2", "image2d", "steerable CNN (band-limited irreps)", "escnn"),
        ("O3", "image3d", "3D steerable CNN", "escnn"),
        ("icosahedral", "image3d", "3D steerable CNN", "escnn"),
        ("SE3", "point_cloud", "tensor-product GNN with gates", "e3nn"),
        (
            "E3 x Sn",
            "point_cloud",
            "E(3)-equivariant message passing (energy invariant, forces l=1)",
            "e3nn + torch_geometric",
        ),
        ("Sn", "graph", "message-passing GNN", "torch_geometric"),
        ("Sn", "set", "DeepSets", "torch"),
        ("D4", "vector", "equivariant MLP of projected eLinear layers", "symm-learning"),
        ("icosahedral", "vector", "equivariant MLP of projected eLinear layers", "symm-learning"),
        ("C2 x D4", "vector", "equivariant MLP of projected eLinear layers", "symm-learning"),
        ("C2 x C2", "vector", "equivariant MLP of projected eLinear layers", "symm-learning"),
    ],
)
def test_selection_table(group, domain, family, library):
    rule = select_rule(parse_group(group), domain, "classification")
    assert (rule.family, rule.library) == (family, library)
    assert rule.rationale and rule.alternatives


@pytest.mark.parametrize(
    "group, domain, reason",
    [
        ("SO3", "image2d", "rotations of 3D space do not act on a 2D pixel grid"),
        ("C4", "point_cloud", "planar rotations and reflections do not act on 3D data"),
        ("Sn", "image2d", "permutations"),
        ("D4", "graph", "permutation group"),
        ("SO2", "vector", "needs a finite group"),
        ("tetrahedral", "vector", "escnn does not implement the tetrahedral group"),
        ("tetrahedral", "image3d", "escnn does not implement the tetrahedral group"),
        ("S3", "vector", "escnn has no symmetric groups"),
        ("C2 x D4", "image2d", "direct products of finite groups act on vectors only"),
    ],
)
def test_nonsense_combinations_are_refused_with_a_reason_and_a_suggestion(group, domain, reason):
    with pytest.raises(DesignError, match=reason) as info:
        select_rule(parse_group(group), domain, "classification")
    assert "use " in str(info.value) and "\n" not in str(info.value)


def test_families_without_templates_stop_with_family_and_library(tmp_path, monkeypatch):
    # A rule whose template is not written yet stops before anything is written.
    import dataclasses

    from equidesign.designer import rules

    patched = tuple(
        dataclasses.replace(r, template=None) if r.name == "graphs" else r for r in rules.RULES
    )
    monkeypatch.setattr(rules, "RULES", patched)
    with pytest.raises(
        UnsupportedFamilyError, match=r"message-passing GNN \(torch_geometric\).*no model"
    ):
        eqd.run(_spec("Sn", "graph"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_rules_are_data():
    assert all(r.groups and r.domains and r.family and r.library for r in RULES)
    assert len({r.name for r in RULES}) == len(RULES)


def test_refusals_are_located_at_the_field_they_blame(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(_spec("SO3", "image2d"))
    reason = (
        "group: 'SO3' on domain image2d: rotations of 3D space do not act on a 2D pixel grid; "
        "use C<n>, D<n>, SO2 or O2 for 2D images, or domain image3d / point_cloud for 3D data"
    )
    for source, where in [(path, f"{path}:2:8"), (_spec("SO3", "image2d"), "<spec>:2:8")]:
        with pytest.raises(DesignError) as info:
            eqd.design(source)
        assert str(info.value) == f"{where}: {reason}"
    spec = eqd.load_spec(_spec("SO3", "image2d"))
    with pytest.raises(DesignError) as info:
        eqd.design(spec.model_dump())  # a dict has no lines
    assert str(info.value) == f"<spec>: {reason}"


def test_an_expansion_naming_a_field_is_located_there(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(_spec("C4", "image2d").replace("size: 15", "size: [15, 17]"))
    with pytest.raises(DesignError) as info:
        plan_for(path)
    assert str(info.value).startswith(f"{path}:8:9: input.size: [15, 17] is not square")


def test_a_product_of_finite_groups_on_vectors_is_escnns_direct_product(tmp_path):
    text = (
        "name: klein\ngroup: C2 x D4\ndomain: vector\ntask: regression\ninput:\n"
        "  representation: regular + trivial\noutput:\n  type: equivariant\n"
        "  representation: regular\nconstraints:\n  width: 2\n  depth: 1\n"
    )
    design, report = eqd.run(text, tmp_path / "out")
    assert "G = direct_product(cyclic_group(2), dihedral_group(4))" in design.source
    assert report.verdict == "PASS" and report.end_to_end.n_elements == 16
