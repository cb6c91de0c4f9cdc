"""View-model of the ARCHITECTURE SPECIFICATION (the design guide's output template)."""

from __future__ import annotations

from typing import Any

from ..designer.plan import ArchitecturePlan
from ._views import plan_table

__all__ = ["architecture_context"]

_VERSIONS = ("torch", "escnn", "e3nn", "torch_geometric", "symm_learning")


def _versions(library: str) -> str:
    from importlib import metadata

    wanted = ["torch"] + [
        lib for lib in _VERSIONS[1:] if lib.replace("_", "-") in library or lib in library
    ]
    if "symm-learning" in library:
        wanted.append("escnn")
    out = []
    for name in dict.fromkeys(wanted):
        dist = {"symm_learning": "symm-learning"}.get(name, name)
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(dist)
    return ", ".join(out)


def _layer_lines(layer) -> list[str]:
    lines = [f"Type: {layer.kind} ({layer.role})", f"Input representation: {layer.in_repr}"]
    lines.append(f"Output representation: {layer.out_repr}")
    if layer.in_size and layer.out_size:
        lines.append(
            f"Spatial size: {'x'.join(map(str, layer.in_size))} -> "
            f"{'x'.join(map(str, layer.out_size))}"
        )
    if layer.kernel_size:
        lines.append(
            f"Kernel {layer.kernel_size}, stride {layer.stride or 1}, padding {layer.padding or 0}"
        )
    if layer.why:
        lines.append(f"Equivariant because: {layer.why}")
    if layer.params is not None:
        lines.append(f"Parameters: {layer.params:,}")
    return lines


def _adjustment_lines(plan: ArchitecturePlan) -> list[str]:
    if plan.adjustments:
        return [f"- **{a.check}**: {a.what} — {a.why}" for a in plan.adjustments]
    return [
        "None: the expanded plan passed every static check (odd kernels, no plain layers over "
        "non-trivial",
        "fields, pointwise nonlinearities only on permutation representations, size parity at "
        "every",
        "strided step).",
    ]


def architecture_context(plan: ArchitecturePlan) -> dict[str, Any]:
    items = [
        {
            "number": 1,
            "title": "Input Layer",
            "lines": [
                f"Input type: {plan.domain}"
                + (f" of size {'x'.join(map(str, plan.input_size))}" if plan.input_size else ""),
                f"Representation: {plan.input_repr}",
            ],
        }
    ]
    for i, layer in enumerate(plan.layers, 2):
        items.append({"number": i, "title": f"{layer.name}", "lines": _layer_lines(layer)})
    last = plan.layers[-1]
    items.append(
        {
            "number": len(items) + 1,
            "title": "Output Layer",
            "lines": [
                f"Aggregation: {'invariant pooling' if plan.symmetry_type == 'Invariant' else 'none (equivariant output)'}",
                f"Output: {plan.symmetry_type.lower()} [{plan.output_repr}] from {last.name}",
            ],
        }
    )
    skeleton = [f"model = build_model(seed={plan.seed})  # {plan.class_name}", "# layers:"]
    skeleton += [f"#   {row}" for row in plan_table(plan)]
    return {
        "title": f"{plan.class_name}: architecture specification",
        "group": plan.group,
        "symmetry_type": plan.symmetry_type,
        "task": plan.task,
        "domain": plan.domain,
        "family": plan.family,
        "library": plan.library,
        "layer_items": items,
        "parameters": f"{plan.parameters:,}" if plan.parameters is not None else "not counted",
        "dependencies": _versions(plan.library),
        "decisions": plan.decisions,
        "adjustment_lines": _adjustment_lines(plan),
        "alternatives": plan.alternatives,
        "skeleton": skeleton,
    }
