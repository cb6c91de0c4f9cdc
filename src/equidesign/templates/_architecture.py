"""View-model of the ARCHITECTURE SPECIFICATION (the design guide's output template).

Layers are listed in blocks: a convolution, linear map or message-passing layer together with
the normalisation and nonlinearity that follow it, as the guide's template lists a layer with its
``Nonlinearity:``. The code skeleton is the generated model class itself, without comments and
docstrings.
"""

from __future__ import annotations

import ast
from typing import Any

from ..designer.plan import ArchitecturePlan, LayerPlan

__all__ = ["architecture_context", "aggregation", "layer_blocks", "code_skeleton"]

_VERSIONS = ("torch", "escnn", "e3nn", "torch_geometric", "symm_learning")

#: roles that open a block (the layers after them that normalise or activate join it)
_MAIN_ROLES = {"lift", "conv", "linear", "message passing", "equivariant set layer"}

#: what kind of layer each is, in the guide's words
_TYPES = {
    "R2Conv": "Convolution",
    "R3Conv": "Convolution",
    "eLinear": "Linear",
    "Interaction": "Tensor Product (message passing)",
    "GINConv": "Message Passing",
    "GINEConv": "Message Passing",
    "GATConv": "Message Passing (attention)",
    "SetLayer": "Equivariant set layer",
}

#: the nonlinearity each nonlinearity layer applies, in the guide's words
_NONLINEARITIES = {
    "ReLU": "Pointwise ReLU",
    "FourierELU": "Fourier ELU (sampled on group elements)",
    "ELU | NormNonLinearity": "Norm ReLU (ELU on the trivial fields)",
    "GatedNonLinearity1": "Gated (a sigmoid gate per field)",
    "Gate": "Gated (SiLU/tanh on scalars, sigmoid gates on the other irreps)",
}

#: nonlinearities inside layers that have no nonlinearity layer after them
_INSIDE = {
    "InvariantHead": "ReLU inside the MLP, on invariant features",
    "InvariantMLP": "ReLU inside the MLP, on invariant features",
    "PerElementMLP": "ReLU inside the MLP, the same on every element",
    "GINConv": "ReLU inside GIN's MLP and after the convolution, the same on every node",
    "GINEConv": "ReLU inside GIN's MLP and after the convolution, the same on every node",
    "GATConv": "ReLU after the convolution, the same on every node",
    "MLP": "ReLU between the linear layers, the same on every node",
    "Interaction": "None in the tensor product; its weights come from an MLP (SiLU) of the "
    "invariant edge lengths",
}

#: how each pooling layer aggregates
_AGGREGATIONS = {
    "GroupPooling": "max over the group (GroupPooling: the largest of each regular field's "
    "channels)",
    "NormPool": "norm of each field (NormPool)",
    "IrrepSubspaceNormPooling": "norm of each irreducible subspace (IrrepSubspaceNormPooling)",
    "PointwiseAdaptiveAvgPool2D": "mean over the grid (PointwiseAdaptiveAvgPool2D)",
    "PointwiseAdaptiveAvgPool3D": "mean over the voxel grid (PointwiseAdaptiveAvgPool3D)",
}

_NO_AGGREGATION = {
    "image2d": "none: a per-pixel output at full resolution, which moves with the image",
    "image3d": "none: a per-voxel output at full resolution, which moves with the volume",
    "graph": "none: one output per node, relabelled with the nodes",
    "point_cloud": "none: one output per point, rotating with the point cloud",
    "set": "none at the output: one output per element (each set layer takes the mean over the "
    "elements inside)",
    "vector": "none: the last linear map is itself equivariant",
}


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


def _size(s: list[int] | None) -> str:
    return "x".join(map(str, s or []))


def layer_blocks(plan: ArchitecturePlan) -> list[list[LayerPlan]]:
    """The layers in blocks: a main layer with the norm and nonlinearity right after it."""
    blocks: list[list[LayerPlan]] = []
    for layer in plan.layers:
        joins = (
            blocks and blocks[-1][0].role in _MAIN_ROLES and layer.role in ("norm", "nonlinearity")
        )
        if joins and not any(x.role == layer.role for x in blocks[-1][1:]):
            blocks[-1].append(layer)
        else:
            blocks.append([layer])
    return blocks


def _nonlinearity(block: list[LayerPlan]) -> str:
    act = next((x for x in block if x.role == "nonlinearity"), None)
    if act is not None:
        return f"{_NONLINEARITIES.get(act.kind, act.kind)} ({act.name}): {act.why}"
    main = block[0]
    if main.kind in _INSIDE:
        return _INSIDE[main.kind]
    return "None (linear)" if main.role in _MAIN_ROLES or main.role == "head" else "None"


def _block_item(block: list[LayerPlan]) -> dict[str, Any]:
    main, last = block[0], block[-1]
    title = (
        f"{main.name} .. {last.name}: {' -> '.join(x.kind for x in block)}"
        if len(block) > 1
        else f"{main.name}: {main.kind}"
    )
    kind = _TYPES.get(main.kind, main.role[:1].upper() + main.role[1:])
    lines = [f"Type: {kind} ({main.kind}, {main.role})"]
    lines += [f"Input representation: {main.in_repr}", f"Output representation: {last.out_repr}"]
    if main.in_size and last.out_size:
        lines.append(f"Spatial size: {_size(main.in_size)} -> {_size(last.out_size)}")
    if main.kernel_size:
        lines.append(
            f"Kernel {main.kernel_size}, stride {main.stride or 1}, padding {main.padding or 0}"
        )
    norm = next((x for x in block if x.role == "norm"), None)
    if norm is not None:
        lines.append(f"Normalization: {norm.kind} ({norm.name}): {norm.why}")
    lines.append(f"Nonlinearity: {_nonlinearity(block)}")
    if main.why:
        lines.append(f"Equivariant because: {main.why}")
    params = [x.params for x in block if x.params is not None]
    if params:
        lines.append(f"Parameters: {sum(params):,}")
    return {"title": title, "lines": lines}


def aggregation(plan: ArchitecturePlan) -> str:
    """How the output is aggregated, precisely: the pooling layers in order."""
    parts = []
    for layer in plan.layers:
        if "pooling" not in layer.role:
            continue
        if layer.kind == "SumPool":
            what = "the elements of each set" if plan.domain == "set" else "the nodes of each graph"
            parts.append(f"sum over {what} (SumPool)")
        else:
            parts.append(_AGGREGATIONS.get(layer.kind, f"{layer.kind} ({layer.role})"))
    if parts:
        return ", then ".join(parts)
    return _NO_AGGREGATION.get(plan.domain, "none")


def code_skeleton(plan: ArchitecturePlan, source: str) -> list[str]:
    """The generated model class without its comments and docstrings, and how to call it."""
    tree = ast.parse(source)
    drop: set[int] = set()
    helpers = []
    model = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == plan.class_name:
            model = node
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name not in (
            "build_model",
            "example_input",
        ):
            helpers.append(node.name)
    if model is None:
        return [f"# see model.py: class {plan.class_name}"]
    for node in ast.walk(model):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(
                getattr(first, "value", None), ast.Constant
            ):
                drop |= set(range(first.lineno, first.end_lineno + 1))
    lines = source.splitlines()
    kept: list[str] = []
    for i in range(model.lineno, model.end_lineno + 1):
        line = lines[i - 1]
        if i in drop or line.lstrip().startswith("#"):
            continue
        if line.strip() or (kept and kept[-1].strip()):  # one blank line between methods
            kept.append(line)
    out = [f"# model.py{' (with ' + ', '.join(helpers) + ')' if helpers else ''}", *kept, ""]
    out += [
        f"model = build_model(seed={plan.seed})",
        "y = model(example_input(batch=2))",
    ]
    return out


def _adjustment_lines(plan: ArchitecturePlan) -> list[str]:
    if plan.adjustments:
        return [f"- **{a.check}**: {a.what} — {a.why}" for a in plan.adjustments]
    return [
        "None: the expanded plan passed every static check (odd kernels, no plain layers over",
        "non-trivial fields, pointwise nonlinearities, max and group pooling and InnerBatchNorm",
        "only on permutation representations, size parity at every strided step).",
    ]


def architecture_context(plan: ArchitecturePlan, source: str | None = None) -> dict[str, Any]:
    inputs = [
        f"Input type: {plan.domain}"
        + (f" of size {_size(plan.input_size)}" if plan.input_size else ""),
        f"Representation: {plan.input_repr}",
    ]
    if plan.options.get("grid"):
        inputs.append(f"Grid: {plan.options['grid']}")
    items = [{"title": "Input Layer", "lines": inputs}]
    items += [_block_item(block) for block in layer_blocks(plan)]
    items.append(
        {
            "title": "Output Layer",
            "lines": [
                f"Aggregation: {aggregation(plan)}",
                f"Output: {plan.symmetry_type.lower()} [{plan.output_repr}] "
                f"({plan.output_dim} values) from {plan.layers[-1].name}",
            ],
        }
    )
    for number, item in enumerate(items, 1):
        item["number"] = number
    skeleton = code_skeleton(plan, source) if source else [f"model = build_model(seed={plan.seed})"]
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
        "skeleton": ["    " + line if line else "" for line in skeleton],
    }
