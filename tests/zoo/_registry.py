"""The zoo's registry: :class:`ZooEntry` and the ``ZOO`` dict the family modules fill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

VERDICTS = ("PASS", "FAIL", "NEEDS_ATTENTION")

Build = Callable[[int], tuple[torch.nn.Module, Any, "torch.Tensor | None"]]


@dataclass(frozen=True)
class ZooEntry:
    """A model with a planted fault (or none), and what an audit of it must say.

    Attributes:
        name: the key in ``ZOO``.
        build: seed -> (model in eval mode, its ``Symmetry``, example inputs or ``None``);
            deterministic in the seed.
        correct: the model is equivariant (no fault planted).
        expected_verdict: ``"PASS"``, ``"FAIL"`` or ``"NEEDS_ATTENTION"``.
        fault_layer: the ``model.named_modules()`` path of the layer that breaks equivariance
            (``""`` for the root); ``None`` for correct models and for faults that are not in a
            layer (a wrong declared output type).
        finding_kind: the kind of finding the audit must report (``None`` when correct).
        note: one line: what the fault is and why it breaks.
        exact: the float32 error a correct model of this family stays under (e3nn's float32
            tensor products with l=2 reach ~5e-5 on per-node vectors; escnn stays under 1e-5).
    """

    name: str
    build: Build
    correct: bool
    expected_verdict: str
    fault_layer: str | None = None
    finding_kind: str | None = None
    note: str = ""
    exact: float = 1e-5


ZOO: dict[str, ZooEntry] = {}


def register(
    name: str,
    verdict: str,
    fault_layer: str | None = None,
    kind: str | None = None,
    note: str = "",
    exact: float = 1e-5,
) -> Callable[[Build], Build]:
    """Decorator: add ``build`` to ``ZOO`` under ``name``; correct means no finding kind."""
    if verdict not in VERDICTS:
        raise ValueError(f"zoo entry {name!r}: verdict {verdict!r} is not one of {VERDICTS}")
    if name in ZOO:
        raise ValueError(f"zoo entry {name!r} is registered twice")

    def wrap(build: Build) -> Build:
        ZOO[name] = ZooEntry(name, build, kind is None, verdict, fault_layer, kind, note, exact)
        return build

    return wrap
