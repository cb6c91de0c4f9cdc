"""The zoo's registry (entries register themselves from the family modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class ZooEntry:
    """A model with a planted fault (or none), and what the audit must say about it.

    Attributes:
        build: seed -> (model in eval mode, its Symmetry, inputs or None).
        expected_verdict: PASS, FAIL or NEEDS_ATTENTION.
        fault_layer: the ``named_modules()`` path of the layer that breaks equivariance.
        finding_kind: the kind of finding the audit must report there.
        note: what the fault is and why it breaks.
    """

    name: str
    build: Callable[[int], tuple[torch.nn.Module, Any, torch.Tensor | None]]
    expected_verdict: str
    fault_layer: str | None = None
    finding_kind: str | None = None
    note: str = ""

    @property
    def correct(self) -> bool:
        return self.expected_verdict == "PASS"


ZOO: dict[str, ZooEntry] = {}


def register(name, verdict, fault_layer=None, kind=None, note=""):
    def wrap(build):
        ZOO[name] = ZooEntry(name, build, verdict, fault_layer, kind, note)
        return build

    return wrap


from . import images, vectors  # noqa: E402,F401  (entries register on import)
