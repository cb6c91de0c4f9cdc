"""spec_hash and to_yaml: canonical, deterministic, independent of how the YAML was written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from equidesign.spec import load_spec

from ._cases import GOOD


def _reordered(text: str) -> str:
    """The same spec with every mapping's keys reversed, in flow style."""

    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(v) for k, v in reversed(list(value.items()))}
        return value

    return yaml.safe_dump(reverse(yaml.safe_load(text)), sort_keys=False, default_flow_style=True)


@pytest.mark.parametrize("domain", sorted(GOOD))
def test_spec_hash_ignores_key_order_and_layout(domain):
    assert load_spec(_reordered(GOOD[domain])).spec_hash() == load_spec(GOOD[domain]).spec_hash()


def test_spec_hash_ignores_comments_and_spelling_of_the_group():
    text = GOOD["vector"]
    variant = "# a comment\n" + text.replace("group: D4", "group: d4  # dihedral")
    assert load_spec(variant).spec_hash() == load_spec(text).spec_hash()


def test_spec_hash_counts_defaults_written_or_not():
    text = GOOD["set"]
    explicit = text + "constraints:\n  width: 8\n  seed: 0\n"
    assert load_spec(explicit).spec_hash() == load_spec(text).spec_hash()


def test_spec_hash_changes_with_any_value():
    text = GOOD["image2d"]
    hashes = {
        load_spec(text.replace(old, new)).spec_hash()
        for old, new in [("", ""), ("classes: 10", "classes: 9"), ("seed: 7", "seed: 8")]
    }
    assert len(hashes) == 3
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)


def test_spec_hash_is_the_same_in_another_process_with_another_hash_seed():
    code = (
        "import sys; from equidesign.spec import load_spec; "
        "print(load_spec(sys.stdin.read()).spec_hash())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=GOOD["image2d"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == load_spec(GOOD["image2d"]).spec_hash()


@pytest.mark.parametrize("domain", sorted(GOOD))
def test_to_yaml_round_trips(domain):
    spec = load_spec(GOOD[domain])
    assert load_spec(spec.to_yaml()) == spec
    assert load_spec(spec.to_yaml()).to_yaml() == spec.to_yaml()


def test_to_yaml_is_canonical_in_field_order_with_defaults_written():
    assert load_spec(_reordered(GOOD["set"])).to_yaml() == (
        "name: bag_energy\n"
        "description: ''\n"
        "group: Sn\n"
        "domain: set\n"
        "task:\n"
        "  kind: regression\n"
        "  targets: 1\n"
        "input:\n"
        "  representation: trivial\n"
        "  size: 5\n"
        "  channels: 6\n"
        "output:\n"
        "  type: invariant\n"
        "constraints:\n"
        "  width: 8\n"
        "  depth: 3\n"
        "  kernel_size: 5\n"
        "  dtype: float32\n"
        "  seed: 0\n"
    )
