"""Rules across fields: a table (data), each rule reported at its field with the fix."""

from __future__ import annotations

import pytest

from equidesign.spec import SPEC_RULES, load_spec
from equidesign.spec._rules import broken_rules

from ._cases import BASE, GOOD, problems_of

_SPEC = {
    "group": "C4",
    "domain": "image2d",
    "task.kind": "classification",
    "task.classes": 10,
    "task.targets": None,
    "task.conservative": None,
    "input.size": 29,
    "input.representation": "trivial",
    "input.channels": None,
    "input.edge_channels": None,
    "input.atom_types": None,
    "constraints.message_passing": None,
    "constraints.nonlinearity": None,
    "output.type": "invariant",
    "output.representation": None,
}

#: rule (by its documentation line) -> values that break it
BREAKS: dict[str, dict] = {
    "`classification`, `segmentation` or `node_classification` need `task.classes`": {
        "task.classes": None
    },
    "other tasks must not have `task.classes`": {"task.kind": "regression"},
    "class-predicting tasks must not have `task.targets`": {"task.targets": 2},
    "only `energy_forces` may have `task.conservative` (default true)": {
        "task.conservative": False
    },
    "an equivariant output needs `output.representation`": {"output.type": "equivariant"},
    "an invariant output must not have `output.representation`": {
        "output.representation": "regular"
    },
    "`segmentation` needs domain `image2d` or `image3d`": {
        "task.kind": "segmentation",
        "domain": "set",
    },
    "`forces` needs domain `point_cloud`": {"task.kind": "forces"},
    "`energy_forces` needs domain `point_cloud`": {"task.kind": "energy_forces"},
    "`node_classification` needs domain `graph`": {"task.kind": "node_classification"},
    "`node_regression` needs domain `graph` or `point_cloud`": {"task.kind": "node_regression"},
    "`classification` needs an invariant output": {"output.type": "equivariant"},
    "`segmentation` needs an equivariant output": {"task.kind": "segmentation"},
    "`forces` needs an equivariant output": {"task.kind": "forces"},
    "`energy_forces` needs an invariant output": {
        "task.kind": "energy_forces",
        "output.type": "equivariant",
    },
    "an equivariant `regression` output needs domain `vector`, `set` or `point_cloud`": {
        "task.kind": "regression",
        "output.type": "equivariant",
    },
    "image domains need `input.size`": {"input.size": None},
    "the input takes a representation `group` has: its irreps, quotients by its subgroups, at "
    "most 4,096 dimensions (e3nn irreps on `point_cloud`)": {"input.representation": "irrep(3)"},
    "an equivariant output takes a representation `group` has: its irreps, quotients by its "
    "subgroups, at most 4,096 dimensions (e3nn irreps on `point_cloud`)": {
        "task.kind": "segmentation",
        "output.type": "equivariant",
        "output.representation": "quotient(C3)",
    },
    "`vector` must not have `input.size`": {"domain": "vector"},
    "a list `input.size` is [H, W] for `image2d`, [D, H, W] for `image3d`; sets, graphs and "
    "point clouds take one number of elements": {"input.size": [29, 29, 29]},
    "`set` and `graph` need `input.channels`": {"domain": "set"},
    "other domains must not have `input.channels`": {"input.channels": 3},
    "only `graph` may have `input.edge_channels`": {"input.edge_channels": 3},
    "only `point_cloud` may have `input.atom_types`": {"input.atom_types": 3},
    "only `graph` may have `constraints.message_passing`": {"constraints.message_passing": "gat"},
    "only SO2 and O2 on `image2d` may have `constraints.nonlinearity`": {
        "constraints.nonlinearity": "norm"
    },
}


def test_rules_are_a_table_with_one_documented_line_each():
    docs = [rule.doc for rule in SPEC_RULES]
    assert len(set(docs)) == len(docs)
    for rule in SPEC_RULES:
        assert rule.field in rule.reads and rule.position in ("value", "key")


def test_every_rule_has_a_case_that_breaks_it():
    assert set(BREAKS) == {rule.doc for rule in SPEC_RULES}


@pytest.mark.parametrize("doc", list(BREAKS))
def test_each_rule_breaks_on_its_case(doc):
    values = {**_SPEC, **BREAKS[doc]}
    assert doc in [rule.doc for rule, _ in broken_rules(values)]


def test_a_consistent_spec_breaks_no_rule():
    assert broken_rules(_SPEC) == []


@pytest.mark.parametrize("domain", sorted(GOOD))
def test_good_specs_of_every_domain_pass_every_rule(domain):
    load_spec(GOOD[domain])


def test_rules_skip_what_they_cannot_read():
    assert broken_rules({"task.kind": "forces"}) == []


@pytest.mark.parametrize(
    ("domain", "old", "new", "line"),
    [
        (
            "vector",
            "kind: regression",
            "kind: energy_forces",
            "<spec>:5:9: task.kind: energy_forces needs domain point_cloud, not 'vector': forces "
            "are vectors on atoms",
        ),
        (
            "set",
            "task: regression",
            "task: node_regression",
            "<spec>:4:7: task.kind: node_regression needs domain graph or point_cloud, not 'set': "
            "it predicts values on nodes or points",
        ),
        (
            "image2d",
            "type: invariant",
            "type: equivariant\n  representation: regular",
            "<spec>:14:9: output.type: classification needs 'type: invariant', not 'equivariant': "
            "class scores do not change when the input is transformed",
        ),
        (
            "point_cloud",
            "type: equivariant\n  representation: 1o",
            "type: invariant",
            "<spec>:10:9: output.type: forces needs 'type: equivariant', not 'invariant': forces "
            "rotate with the molecule",
        ),
        (
            "image2d",
            "  representation: trivial\n  size: 29\n",
            "  representation: trivial\n",
            "<spec>:11:3: input.size: required field is missing; add e.g. 'size: 29' under input "
            "(image2d needs the size of its images)",
        ),
        (
            "vector",
            "  representation: 2 x regular\n",
            "  representation: 2 x regular\n  size: 8\n",
            "<spec>:9:3: input.size: a vector has no size (its dimension is its representation's); "
            "remove 'size'",
        ),
        (
            "image3d",
            "[9, 11, 13]",
            "[9, 11]",
            "<spec>:5:15: input.size: image3d takes size N or [D, H, W], not [9, 11]",
        ),
        (
            "set",
            "size: 5",
            "size: [5, 5]",
            "<spec>:7:9: input.size: set takes one number of elements as size, not the list [5, 5]",
        ),
        (
            "set",
            "  channels: 6\n",
            "",
            "<spec>:6:3: input.channels: required field is missing; add e.g. 'channels: 8' under "
            "input (set needs the number of features per element)",
        ),
        (
            "vector",
            "  representation: 2 x regular\n",
            "  representation: 2 x regular\n  channels: 3\n",
            "<spec>:9:3: input.channels: only sets and graphs take channels; vector inputs are "
            "described by 'representation'; remove 'channels'",
        ),
        (
            "set",
            "  channels: 6\n",
            "  channels: 6\n  edge_channels: 2\n",
            "<spec>:7:3: input.edge_channels: only graphs have edge features, not set; remove "
            "'edge_channels'",
        ),
        (
            "graph",
            "  edge_channels: 3\n",
            "  edge_channels: 3\n  atom_types: 4\n",
            "<spec>:10:3: input.atom_types: atom types are for molecules (domain point_cloud), not "
            "graph; remove 'atom_types'",
        ),
        (
            "vector",
            "kind: regression\n  targets: 2",
            "kind: regression\n  targets: 2\n  classes: 3",
            "<spec>:7:3: task.classes: regression predicts no classes; remove 'classes' "
            "(regression counts its outputs with 'targets')",
        ),
        (
            "image3d",
            "classes: 3}",
            "classes: 3, targets: 1}",
            "<spec>:4:40: task.targets: segmentation predicts classes, not targets; remove "
            "'targets'",
        ),
        (
            "vector",
            "type: invariant",
            "type: equivariant",
            "<spec>:10:3: output.representation: required field is missing; add e.g. "
            "'representation: regular' (an equivariant output needs the representation the "
            "group acts by)",
        ),
    ],
)
def test_broken_rule_is_one_located_line_with_the_fix(domain, old, new, line):
    text = GOOD[domain]
    assert old in text
    assert problems_of(text.replace(old, new)) == [line]


@pytest.mark.parametrize(
    ("domain", "instead"),
    [
        ("image2d", " (or task segmentation for per-pixel maps)"),
        ("graph", " (or task node_regression for one output per node)"),
    ],
)
def test_equivariant_regression_only_where_the_output_can_transform(domain, instead):
    text = BASE.replace("image2d", domain).replace("classification\n  classes: 10", "regression")
    text = text.replace("type: invariant", "type: equivariant\n  representation: regular")
    if domain == "graph":
        text = text.replace("size: 29", "size: 29\n  channels: 3")
    line = text.splitlines().index("  type: equivariant") + 1
    assert problems_of(text) == [
        f"<spec>:{line}:9: output.type: an equivariant regression output needs domain vector, set or "
        f"point_cloud, not {domain!r}: a model on {domain} pools to invariant features; use "
        f"'type: invariant'{instead}"
    ]


@pytest.mark.parametrize("domain", ["vector", "set", "point_cloud"])
def test_equivariant_regression_is_allowed_on_vectors_sets_and_point_clouds(domain):
    text = GOOD[domain].replace("type: invariant", "type: equivariant\n  representation: trivial")
    text = text.replace("task: forces", "task: regression")
    assert load_spec(text).output.type == "equivariant"
