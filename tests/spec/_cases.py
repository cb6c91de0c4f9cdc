"""Specs shared by the spec tests: one good spec per domain, and a helper that returns the
error lines of a bad one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from equidesign.errors import SpecError
from equidesign.spec import load_spec

EXAMPLE_SPECS = sorted((Path(__file__).parents[2] / "specs").glob("*.yaml"))

#: one good spec per domain
GOOD: dict[str, str] = {
    "vector": """\
name: d4_vector
group: D4
domain: vector
task:
  kind: regression
  targets: 2
input:
  representation: 2 x regular
output:
  type: invariant
""",
    "image2d": """\
name: c4_digits
description: |
  Digits, whatever their rotation.
  Second line.
group: C4
domain: image2d
task:
  kind: classification
  classes: 10
input:
  representation: trivial
  size: 29
output:
  type: invariant
constraints:
  width: 8
  depth: 3
  kernel_size: 5
  max_params: 100000
  dtype: float64
  seed: 7
""",
    "image3d": """\
name: octa_voxels
group: octahedral
domain: image3d
task: {kind: segmentation, classes: 3}
input: {size: [9, 11, 13]}
output: {type: equivariant, representation: trivial}
""",
    "point_cloud": """\
name: molecule_forces
group: E3 x Sn
domain: point_cloud
task: forces
input:
  representation: 4x0e
  atom_types: 5
  size: 12
output:
  type: equivariant
  representation: 1o
""",
    "graph": """\
name: node_labels
group: Sn
domain: graph
task:
  kind: node_classification
  classes: 4
input:
  channels: 7
  edge_channels: 3
output:
  type: invariant
""",
    "set": """\
name: bag_energy
group: Sn
domain: set
task: regression
input:
  channels: 6
  size: 5
output:
  type: invariant
""",
}

#: a good image spec to break in the error tests (line numbers below refer to it)
BASE = """\
name: demo
group: C4
domain: image2d
task:
  kind: classification
  classes: 10
input:
  size: 29
output:
  type: invariant
"""


def problems_of(source: Any) -> list[str]:
    """The lines of the :class:`SpecError` that loading ``source`` raises."""
    with pytest.raises(SpecError) as info:
        load_spec(source)
    lines = str(info.value).splitlines()
    assert lines == [str(p) for p in info.value.problems]
    return lines
