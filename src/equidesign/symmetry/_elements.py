"""Choosing the group elements an audit tests: all of a finite group, Haar samples otherwise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .actions import ElementSet, TestElement, element_label

__all__ = ["escnn_elements", "haar_sample"]


def haar_sample(G: Any, n: int, rng: np.random.Generator) -> list[Any]:
    """``n`` Haar-random elements of a continuous escnn group, from a seeded generator.

    escnn's own ``G.sample()`` draws from numpy's global state; the audit must be reproducible
    from its seed, so the parametrisations are sampled here.
    """
    name = type(G).__name__
    out = []
    for _ in range(n):
        if name == "SO2":
            out.append(G.element(float(rng.uniform(0, 2 * math.pi))))
        elif name == "O2":
            out.append(G.element((int(rng.integers(2)), float(rng.uniform(0, 2 * math.pi)))))
        elif name in ("SO3", "O3"):
            q = rng.normal(size=4)
            q /= np.linalg.norm(q)
            if name == "SO3":
                out.append(G.element(q, "Q"))
            else:
                out.append(G.element((int(rng.integers(2)), q), "Q"))
        else:
            raise ValueError(f"no Haar sampler for {G}")
    return out


def _is_identity(G: Any, g: Any) -> bool:
    return g == G.identity


def escnn_elements(
    G: Any,
    *,
    seed: int,
    n_random: int,
    exact_subgroup: list[Any] | None = None,
    exactness=None,
) -> ElementSet:
    """The elements to test for an escnn group.

    Finite groups: every element (exhaustive). Continuous groups: ``exact_subgroup`` (elements the
    grid carries exactly, e.g. multiples of 90°), then ``n_random`` Haar-random elements.

    Args:
        exactness: optional ``list[value] -> list[bool]`` saying which elements are applied
            exactly (images: on the pixel grid).
    """
    if G.order() > 0:
        values = list(G.elements)
        exhaustive, note = True, f"all {len(values)} elements of {G.name}"
    else:
        rng = np.random.default_rng(seed)
        base = list(exact_subgroup or [G.identity])
        values = base + haar_sample(G, n_random, rng)
        exhaustive = False
        note = (
            f"{G.name} is continuous: {len(base)} grid-exact elements and {n_random} Haar-random "
            f"elements (seed {seed})"
        )
    flags = exactness(values) if exactness else [True] * len(values)
    elements = [
        TestElement(
            label=element_label(v) if exhaustive or i < len(values) else f"g{i}",
            value=v,
            exact=bool(flag),
            identity=_is_identity(G, v),
        )
        for i, (v, flag) in enumerate(zip(values, flags, strict=True))
    ]
    _dedupe_labels(elements)
    # a continuous group with no Haar-random element: only its finite grid subgroup is tested
    subgroup_only = G.order() <= 0 and n_random == 0
    return ElementSet(
        elements=elements, exhaustive=exhaustive, note=note, subgroup_only=subgroup_only
    )


def _dedupe_labels(elements: list[TestElement]) -> None:
    seen: dict[str, int] = {}
    for i, e in enumerate(elements):
        if e.label in seen:
            object.__setattr__(elements[i], "label", f"{e.label} #{i}")
        seen[e.label] = i
