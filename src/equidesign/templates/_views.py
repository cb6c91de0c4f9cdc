"""View-models: the small classes that turn a plan into the values a template prints.

All logic lives here; templates only loop over what these classes prepare.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..designer.plan import ArchitecturePlan, LayerPlan
from ..groups import GroupInfo, parse_group
from ._repcode import (
    group_constructor,
    gspace_constructor,
    rep_code,
    rep_list_code,
    voxel_gspace_constructor,
)

__all__ = ["LayerView", "GCNNView", "EMLPView", "VIEWS", "plan_table"]


@dataclass
class LayerView:
    attr: str  # attribute (or position) in the generated model
    code: str  # constructor expression
    comment: str  # what and why, wrapped by ``comment_lines``

    @property
    def comment_lines(self) -> list[str]:
        if not self.comment:
            return []
        text = f"{self.attr}: {self.comment}" if self.attr.isdigit() else self.comment
        return textwrap.wrap(text, 84)  # indented up to 12, plus "# ": within 100 columns


@dataclass
class FieldTypeView:
    var: str
    reps: str
    comment: str


def _comment_block(text: str, width: int = 88) -> list[str]:
    """``text`` as ``#`` comment lines (indented up to 8 in the generated code)."""
    return ["# " + line for line in textwrap.wrap(text, width)]


def _size(s: list[int] | None) -> str:
    return "" if not s else "x".join(str(v) for v in s)


def _comment(layer: LayerPlan, seen: set[str]) -> str:
    """Role, sizes and why the layer is equivariant; a reason already given above is not
    repeated, and a repeated layer with no sizes to tell gets no comment."""
    sizes = ""
    if layer.in_size and layer.out_size:
        sizes = f" {_size(layer.in_size)} -> {_size(layer.out_size)}."
    key = f"{layer.kind}: {layer.why}"
    why = "" if key in seen or not layer.why else f" {layer.why}"
    seen.add(key)
    if not sizes and not why:
        return ""
    return f"{layer.role}:{sizes}{why}".strip().rstrip(".")


def _sentence(text: str) -> str:
    """``text`` with a capital first letter ("icosahedral-invariant ..." starts a sentence)."""
    return text[:1].upper() + text[1:]


def plan_table(plan: ArchitecturePlan) -> list[str]:
    """Rows ``name  kind  in -> out  sizes`` for docstrings and reports."""
    rows = []
    width = max(len(layer.name) for layer in plan.layers)
    kwidth = max(len(layer.kind) for layer in plan.layers)
    for layer in plan.layers:
        size = ""
        if layer.in_size and layer.out_size:
            size = f"  {_size(layer.in_size)} -> {_size(layer.out_size)}"
        row = (
            f"{layer.name:<{width}}  {layer.kind:<{kwidth}}  [{layer.in_repr}] -> "
            f"[{layer.out_repr}]{size}"
        )
        if len(row) > _ROW_WIDTH:  # long irreps: the output on its own line, under the input
            head = f"{layer.name:<{width}}  {layer.kind:<{kwidth}}  "
            row = f"{head}[{layer.in_repr}]\n{' ' * (len(head) - 3)}-> [{layer.out_repr}]{size}"
        rows.extend(row.split("\n"))
    return rows


#: the longest plan row (docstrings indent it by 4 within 100 columns)
_ROW_WIDTH = 92


@dataclass
class _BaseView:
    plan: ArchitecturePlan
    spec_yaml: str
    group: GroupInfo = field(init=False)

    def __post_init__(self):
        self.group = parse_group(self.plan.group)  # noqa: B018 (Sn has no escnn group; fine)

    def header(self) -> str:
        from ..codegen import provenance_header

        return provenance_header(
            generator_version=__version__,
            template=f"{self.plan.template}.py.j2",
            spec_hash=self.plan.spec_hash,
            spec_name=self.plan.name,
        )

    def docstring(self) -> str:
        from ..codegen import safe_docstring

        p = self.plan
        kind = "invariant" if p.symmetry_type == "Invariant" else "equivariant"
        title = f"{p.group}-{kind} {p.task} model for {p.domain}: {p.family} ({p.library})."
        lines = textwrap.wrap(_sentence(title), 96, break_on_hyphens=False) + [""]
        if p.description:
            for paragraph in p.description.splitlines():
                lines += textwrap.wrap(paragraph, 96) or [""]
            lines += [""]
        lines += [
            "Spec (the fields this family reads; the header's hash is of the whole spec):",
            "",
        ]
        lines += ["    " + line for line in self.spec_lines()]
        lines += ["", "Plan:", ""] + ["    " + row for row in plan_table(p)]
        if p.parameters is not None:
            lines += ["", f"Trainable parameters: {p.parameters:,}"]
        return safe_docstring("\n".join(lines))

    def spec_lines(self) -> list[str]:
        """The canonical spec's YAML without the fields this family does not read: an empty
        description, and the kernel size of families without convolutions."""
        out, section = [], ""
        for line in self.spec_yaml.splitlines():
            if line and not line.startswith(" "):  # a top-level key (canonical YAML)
                section = line.split(":", 1)[0]
            if line == "description: ''":
                continue
            if section == "constraints" and line.startswith("  kernel_size: "):
                if self.plan.kernel_size is None:
                    continue
            out.append(line)
        return out

    def common(self) -> dict[str, Any]:
        p = self.plan
        return {
            "header": self.header(),
            "docstring": self.docstring(),
            "class_name": p.class_name,
            "group_name": p.group,
            "symmetry_type": p.symmetry_type.lower(),
            "seed": int(p.seed),
            "build_note": " (float64)" if self.float64 else "",
            "build_lines": self.build_lines(),
            "to_dtype": ".double()" if self.float64 else "",
        }

    @property
    def float64(self) -> bool:
        return self.plan.dtype == "float64"

    def build_lines(self) -> list[str]:
        """What ``build_model`` does after building the model (float64: convert it)."""
        return ["model = model.double()"] if self.float64 else []


def _class_doc(summary: str, *paragraphs: str) -> str:
    """A class docstring: the summary, then paragraphs wrapped and indented by 4."""
    lines = [_sentence(summary)]
    for paragraph in paragraphs:
        lines += [""] + ["    " + line for line in textwrap.wrap(paragraph, 96)]
    return "\n".join(lines) + ("\n    " if paragraphs else "")


def _escnn_types_doc(head: bool) -> str:
    """What the model's layers declare (the auditor tests each one alone with it)."""
    if not head:
        return (
            "Every layer exposes ``in_type``/``out_type`` (escnn field types), so each can be "
            "tested alone."
        )
    return (
        "Every layer exposes its representations, so each can be tested alone: escnn field types "
        "(``in_type``/``out_type``) up to the invariant pooling, trivial escnn representations "
        "(``in_rep``/``out_rep``) on the invariant head."
    )


class _EscnnView(_BaseView):
    """What the escnn image and voxel templates share."""

    def imports(self, head: bool) -> list[str]:
        lines = ["import torch", "from escnn import gspaces", "from escnn import nn as enn"]
        return lines + (["from escnn.group import directsum"] if head else [])

    def grid_doc(self) -> list[str]:
        """A paragraph on the elements the grid carries only approximately, if any."""
        note = self.plan.options.get("grid")
        return (
            [
                f"Exactness: {note}; the audit judges those against the input's own "
                "interpolation error."
            ]
            if note
            else []
        )

    @property
    def own_basis(self) -> str:
        """float64 models build their own kernel bases (see :meth:`build_lines`)."""
        return ", recompute=True" if self.float64 else ""

    def build_lines(self) -> list[str]:
        if not self.float64:
            return []
        return _comment_block(
            "escnn builds its modules in float32 only: convert the finished model. Its "
            "convolutions were built with recompute=True: escnn otherwise shares one kernel "
            "basis between the convolutions of every model in the process, and converting it "
            "would turn float32 models' bases into float64 too",
            width=92,
        ) + ["model = model.double()"]

    def head_helpers(self, head: bool) -> list[str]:
        return ["_invariant_head.py.j2"] if head else []


class GCNNView(_EscnnView):
    """Regular-field G-CNN on escnn (template ``gcnn_escnn.py.j2``)."""

    template = "gcnn_escnn.py.j2"

    def _types(self) -> tuple[list[FieldTypeView], dict[str, str]]:
        names: dict[str, str] = {}
        views: list[FieldTypeView] = []
        labels = {
            self.plan.input_repr: ("in_type", "input"),
        }
        for layer in self.plan.layers:
            for expr in (layer.in_repr, layer.out_repr):
                if expr in names:
                    continue
                var, what = labels.get(expr, (f"type_{len(views)}", "fields"))
                names[expr] = var
                views.append(
                    FieldTypeView(
                        var, rep_list_code(self.group, expr, "G", planar=True), f"{what}: {expr}"
                    )
                )
        return views, names

    def _code(self, layer: LayerPlan, t: dict[str, str]) -> str:
        i, o = t[layer.in_repr], t[layer.out_repr]
        k, s, p = layer.kernel_size, layer.stride or 1, layer.padding or 0
        stride = f", stride={s}" if s > 1 else ""
        table = {
            "R2Conv": lambda: (
                f"enn.R2Conv({i}, {o}, kernel_size={k}, padding={p}{stride}{self.own_basis})"
            ),
            "InnerBatchNorm": lambda: f"enn.InnerBatchNorm({i})",
            "IIDBatchNorm2d": lambda: f"enn.IIDBatchNorm2d({i})",
            "ReLU": lambda: f"enn.ReLU({i}, inplace=True)",
            "NormNonLinearity": lambda: f'enn.NormNonLinearity({i}, function="n_relu")',
            "PointwiseAvgPoolAntialiased2D": lambda: (
                f"enn.PointwiseAvgPoolAntialiased2D({i}, sigma={layer.sigma}, stride={s})"
            ),
            "PointwiseAvgPool2D": lambda: (
                f"enn.PointwiseAvgPool2D({i}, kernel_size={k}, stride={s})"
            ),
            "PointwiseMaxPool2D": lambda: (
                f"enn.PointwiseMaxPool2D({i}, kernel_size={k}, stride={s}, padding={p})"
            ),
            "PointwiseMaxPoolAntialiased2D": lambda: (
                f"enn.PointwiseMaxPoolAntialiased2D({i}, kernel_size={k}, stride={s}, padding={p})"
            ),
            "NormMaxPool": lambda: (
                f"enn.NormMaxPool({i}, kernel_size={k}, stride={s}, padding={p})"
            ),
            "GroupPooling": lambda: f"enn.GroupPooling({i})",
            "NormPool": lambda: f"enn.NormPool({i})",
            "PointwiseAdaptiveAvgPool2D": lambda: f"enn.PointwiseAdaptiveAvgPool2D({i}, 1)",
            "InvariantHead": lambda: (
                f"InvariantHead(G, {i}.size, {int(layer.features or 16)}, {self.plan.output_dim})"
            ),
        }
        return table[layer.kind]()

    def context(self) -> dict[str, Any]:
        types, t = self._types()
        seen: set[str] = set()
        features, tail = [], []
        for layer in self.plan.layers:
            inside = layer.name.startswith("features.")
            view = LayerView(
                layer.name.split(".", 1)[-1], self._code(layer, t), _comment(layer, seen)
            )
            (features if inside else tail).append(view)
        dense = self.plan.task == "segmentation"
        size = self.plan.input_size or [0, 0]
        channels = sum(r.size for r in _reps(self.group, self.plan.input_repr))  # input channels
        if dense:
            forward_tail = ["h = self.head(h)", "return h.tensor"]
            out_doc = (
                f"(B, {self.plan.output_dim}, {size[0]}, {size[1]}) per-pixel outputs "
                f"[{self.plan.output_repr}]"
            )
        else:
            forward_tail = _pooled_tail("group_pool", self.plan.layer("group_pool").kind)
            out_doc = f"(B, {self.plan.output_dim}) outputs"
        ctx = self.common()
        ctx.update(
            gspace=gspace_constructor(self.group),
            field_types=types,
            in_var=t[self.plan.input_repr],
            out_var=t[self.plan.layers[-1].out_repr],
            features=features,
            tail=tail,
            forward_tail=forward_tail,
            forward_doc=f"(B, {channels}, {size[0]}, {size[1]}) images -> {out_doc}, "
            f"{self.plan.symmetry_type.lower()} under {self.plan.group}.",
            imports=self.imports(not dense),
            helpers=self.head_helpers(not dense),
            class_doc=_class_doc(
                f"{self.plan.group}-{self.plan.symmetry_type.lower()} regular-field G-CNN (escnn).",
                _escnn_types_doc(not dense),
                *self.grid_doc(),
            ),
            in_channels=channels,
            height=size[0],
            width=size[1],
        )
        return ctx


class SteerableView(_EscnnView):
    """Steerable CNN with band-limited fields for SO2/O2 (template ``steerable_escnn.py.j2``)."""

    template = "steerable_escnn.py.j2"

    def _var(self, layer: LayerPlan, expr: str) -> str | None:
        """The field-type variable of a plan representation (hidden, gate_input, in/out)."""
        if layer.role == "lift" and expr == layer.in_repr:
            return "self.in_type"
        if layer.name == "head" and layer.kind == "R2Conv" and expr == layer.out_repr:
            return "self.out_type"
        act = next(x for x in self.plan.layers if x.role == "nonlinearity")
        if expr == act.out_repr:
            return "hidden"
        if expr == act.in_repr:  # the gated nonlinearity's input: gates + hidden
            return "gate_input"
        return None  # pooled invariants: the layers after NormPool read its out_type

    def _code(self, layer: LayerPlan) -> str:
        p = self.plan
        i, o = self._var(layer, layer.in_repr), self._var(layer, layer.out_repr)
        k, s, pad = layer.kernel_size, layer.stride or 1, layer.padding or 0
        table = {
            "R2Conv": lambda: (
                f"enn.R2Conv({i}, {o}, kernel_size={k}, padding={pad}{self.own_basis})"
            ),
            "IIDBatchNorm2d": lambda: f"enn.IIDBatchNorm2d({i})",
            "FourierELU": lambda: "fourier_elu(self.gspace)",
            "IIDBatchNorm2d | NormBatchNorm": lambda: (
                f"enn.MultipleModule({i}, labels, [(enn.IIDBatchNorm2d(scalars), 'trivial'), "
                "(enn.NormBatchNorm(irreps), 'irreps')])"
            ),
            "ELU | NormNonLinearity": lambda: (
                f"enn.MultipleModule({i}, labels, [(enn.ELU(scalars), 'trivial'), "
                "(enn.NormNonLinearity(irreps, function='n_relu'), 'irreps')])"
            ),
            "GNormBatchNorm": lambda: f"enn.GNormBatchNorm({i})",
            "GatedNonLinearity1": lambda: (
                f'enn.GatedNonLinearity1({i}, gates=["gate"] * len(gates) + ["gated"] * len(hidden))'
            ),
            "PointwiseAvgPoolAntialiased2D": lambda: (
                f"enn.PointwiseAvgPoolAntialiased2D({i}, sigma={layer.sigma}, stride={s})"
            ),
            "PointwiseAvgPool2D": lambda: (
                f"enn.PointwiseAvgPool2D({i}, kernel_size={k}, stride={s})"
            ),
            "NormPool": lambda: f"enn.NormPool({i})",
            "PointwiseAdaptiveAvgPool2D": lambda: (
                "enn.PointwiseAdaptiveAvgPool2D(self.norm_pool.out_type, 1)"
            ),
            "InvariantHead": lambda: (
                f"InvariantHead(G, self.norm_pool.out_type.size, {int(layer.features or 16)}, "
                f"{p.output_dim})"
            ),
        }
        return table[layer.kind]()

    def _hidden_lines(self) -> list[str]:
        from ..designer._steerable import field_irreps

        p, o = self.plan, self.plan.options
        width, top, choice = p.width, int(o["max_frequency"]), o["nonlinearity"]
        if choice == "fourier":
            return [
                f"# hidden fields: {width} copies of the irreps of frequency 0..{top}",
                "# (G.bl_irreps); the Fourier ELU defines them as its input type",
                "hidden = fourier_elu(self.gspace).in_type",
            ]
        ids = field_irreps(self.group.kind, top, trivial=choice == "gated")
        irreps = ", ".join(f"G.irrep({', '.join(map(str, i))})" for i in ids)
        if choice == "norm":
            return _comment_block(
                f"hidden fields: {width} trivial fields, then {width} copies of each non-trivial "
                f"irrep up to frequency {top}. escnn's NormBatchNorm takes no trivial field (a "
                "norm would drop its sign): MultipleModule gives the trivial fields ELU and IID "
                "batch norm, the others norm ReLU and norm batch norm"
            ) + [
                f"scalars = enn.FieldType(self.gspace, [G.trivial_representation] * {width})",
                f"irreps = enn.FieldType(self.gspace, [{irreps}] * {width})",
                "hidden = scalars + irreps",
                'labels = ["trivial"] * len(scalars) + ["irreps"] * len(irreps)',
            ]
        return _comment_block(
            f"hidden fields: {width} copies of each irrep of frequency 0..{top}; the "
            "convolutions also compute one trivial gate field per field, which the gated "
            "nonlinearity turns into a sigmoid factor and then drops"
        ) + [
            f"hidden = enn.FieldType(self.gspace, [{irreps}] * {width})",
            "gates = enn.FieldType(self.gspace, [G.trivial_representation] * len(hidden))",
            "gate_input = gates + hidden",
        ]

    def context(self) -> dict[str, Any]:
        p, o = self.plan, self.plan.options
        seen: set[str] = set()
        features, tail = [], []
        for layer in p.layers:
            inside = layer.name.startswith("features.")
            view = LayerView(layer.name.split(".", 1)[-1], self._code(layer), _comment(layer, seen))
            (features if inside else tail).append(view)
        dense = p.task == "segmentation"
        size = p.input_size or [0, 0]
        channels = sum(r.size for r in _reps(self.group, p.input_repr))
        if dense:
            forward_tail = ["h = self.head(h)", "return h.tensor"]
            out_doc = (
                f"(B, {p.output_dim}, {size[0]}, {size[1]}) per-pixel outputs [{p.output_repr}]"
            )
        else:
            forward_tail = _pooled_tail("norm_pool", "NormPool")
            out_doc = f"(B, {p.output_dim}) outputs"
        samples = int(o["fourier_samples"])
        samples_doc = (
            f"{samples} rotations (multiples of {360 / samples:g} degrees)"
            if self.group.kind == "so2"
            else f"{samples} rotations (multiples of {360 / samples:g} degrees), each with and "
            "without the reflection"
        )
        ctx = self.common()
        ctx.update(
            gspace=gspace_constructor(self.group),
            in_reps=rep_list_code(self.group, p.input_repr, "G"),
            in_repr=p.input_repr,
            out_reps=rep_list_code(self.group, p.output_repr, "G"),
            out_repr=p.output_repr,
            width=p.width,
            max_frequency=int(o["max_frequency"]),
            samples=samples,
            samples_doc=samples_doc,
            features=features,
            tail=tail,
            forward_tail=forward_tail,
            forward_doc=f"(B, {channels}, {size[0]}, {size[1]}) images -> {out_doc}, "
            f"{p.symmetry_type.lower()} under {p.group}.",
            imports=self.imports(not dense),
            helpers=self.head_helpers(not dense)
            + (["_fourier_elu.py.j2"] if o["nonlinearity"] == "fourier" else []),
            class_doc=_class_doc(
                f"{p.group}-{p.symmetry_type.lower()} steerable CNN with band-limited fields "
                "(escnn).",
                _escnn_types_doc(not dense),
                *self.grid_doc(),
            ),
            hidden_lines=self._hidden_lines(),
            in_channels=channels,
            height=size[0],
            width_px=size[1],
        )
        return ctx


class VoxelsView(_EscnnView):
    """3D steerable CNN on voxel grids (template ``voxels_escnn.py.j2``)."""

    template = "voxels_escnn.py.j2"

    def _code(self, layer: LayerPlan) -> str:
        p = self.plan
        i = "self.in_type" if layer.in_repr == p.input_repr and layer.role == "lift" else "hidden"
        o = "self.out_type" if layer.name == "head" and layer.kind == "R3Conv" else "hidden"
        k, s, pad = layer.kernel_size, layer.stride or 1, layer.padding or 0
        pooled = "self.invariant_pool.out_type"
        table = {
            "R3Conv": lambda: (
                f"enn.R3Conv({i}, {o}, kernel_size={k}, padding={pad}{self.own_basis})"
            ),
            "IIDBatchNorm3d": lambda: f"enn.IIDBatchNorm3d({i})",
            "InnerBatchNorm": lambda: f"enn.InnerBatchNorm({i})",
            "ReLU": lambda: f"enn.ReLU({i}, inplace=True)",
            "FourierELU": lambda: "fourier_elu(self.gspace)",
            "PointwiseAvgPoolAntialiased3D": lambda: (
                f"enn.PointwiseAvgPoolAntialiased3D({i}, sigma={layer.sigma}, stride={s})"
            ),
            "PointwiseAvgPool3D": lambda: (
                f"enn.PointwiseAvgPool3D({i}, kernel_size={k}, stride={s})"
            ),
            "PointwiseMaxPool3D": lambda: (
                f"enn.PointwiseMaxPool3D({i}, kernel_size={k}, stride={s}, padding={pad})"
            ),
            "NormPool": lambda: f"enn.NormPool({i})",
            "GroupPooling": lambda: f"enn.GroupPooling({i})",
            "PointwiseAdaptiveAvgPool3D": lambda: f"enn.PointwiseAdaptiveAvgPool3D({pooled}, 1)",
            "InvariantHead": lambda: (
                f"InvariantHead(G, {pooled}.size, {int(layer.features or 16)}, {p.output_dim})"
            ),
        }
        return table[layer.kind]()

    def _hidden_lines(self) -> list[str]:
        p = self.plan
        if p.options["continuous"]:
            return [
                f"# hidden fields: {p.width} copies of the irreps of degree "
                f"0..{p.options['max_frequency']}",
                "# (G.bl_irreps); the Fourier ELU defines them as its input type",
                "hidden = fourier_elu(self.gspace).in_type",
            ]
        return [
            f"# hidden fields: {p.width} regular fields ({self.group.order} channels each, "
            "permuted by the group)",
            f"hidden = enn.FieldType(self.gspace, [G.regular_representation] * {p.width})",
        ]

    def context(self) -> dict[str, Any]:
        p, o = self.plan, self.plan.options
        seen: set[str] = set()
        features, tail = [], []
        for layer in p.layers:
            inside = layer.name.startswith("features.")
            view = LayerView(layer.name.split(".", 1)[-1], self._code(layer), _comment(layer, seen))
            (features if inside else tail).append(view)
        dense = p.task == "segmentation"
        n = (p.input_size or [0])[0]
        channels = sum(r.size for r in _reps(self.group, p.input_repr))
        if dense:
            forward_tail = ["h = self.head(h)", "return h.tensor"]
            out_doc = f"(B, {p.output_dim}, {n}, {n}, {n}) per-voxel outputs [{p.output_repr}]"
        else:
            pool_kind = p.layer("invariant_pool").kind
            forward_tail = _pooled_tail("invariant_pool", pool_kind)
            out_doc = f"(B, {p.output_dim}) outputs"
        ctx = self.common()
        ctx.update(
            gspace=voxel_gspace_constructor(self.group),
            in_reps=rep_list_code(self.group, p.input_repr, "G"),
            in_repr=p.input_repr,
            out_reps=rep_list_code(self.group, p.output_repr, "G"),
            out_repr=p.output_repr,
            width=p.width,
            max_frequency=int(o["max_frequency"]),
            samples_doc="the 24 rotations of the cube"
            + (", with and without the inversion" if self.group.kind == "o3" else ""),
            features=features,
            tail=tail,
            forward_tail=forward_tail,
            forward_doc=f"(B, {channels}, {n}, {n}, {n}) voxels -> {out_doc}, "
            f"{p.symmetry_type.lower()} under {p.group}.",
            imports=self.imports(not dense),
            helpers=self.head_helpers(not dense)
            + (["_voxel_fourier_elu.py.j2"] if o["continuous"] else []),
            class_doc=_class_doc(
                f"{p.group}-{p.symmetry_type.lower()} 3D steerable CNN on voxel grids (escnn).",
                _escnn_types_doc(not dense),
                *self.grid_doc(),
                "Tensors are (batch, channels, depth, height, width); escnn reads the spatial axes "
                "as (-z, -y, x).",
            ),
            hidden_lines=self._hidden_lines(),
            in_channels=channels,
            size=n,
        )
        return ctx


class EMLPView(_BaseView):
    """Equivariant MLP of projected eLinear layers (template ``emlp_symm_learning.py.j2``)."""

    template = "emlp_symm_learning.py.j2"

    def context(self) -> dict[str, Any]:
        func, call = group_constructor(self.group)
        reps: dict[str, str] = {self.plan.input_repr: "self.in_rep"}
        rep_defs = [("self.in_rep", rep_code(self.group, self.plan.input_repr), "input")]
        for layer in self.plan.layers:
            for expr in (layer.in_repr, layer.out_repr):
                if expr in reps or layer.kind in ("IrrepSubspaceNormPooling", "InvariantHead"):
                    continue
                var = f"rep_{len(rep_defs)}"
                reps[expr] = var
                rep_defs.append((var, rep_code(self.group, expr), expr))
        layers, tail = [], []
        seen: set[str] = set()
        for layer in self.plan.layers:
            code = self._code(layer, reps)
            view = LayerView(layer.name.split(".", 1)[-1], code, _comment(layer, seen))
            (layers if layer.name.startswith("layers.") else tail).append(view)
        invariant = self.plan.symmetry_type == "Invariant"
        ctx = self.common()
        dim = sum(r.size for r in _reps(self.group, self.plan.input_repr))
        directsum = invariant or any("directsum(" in c for _, c, _ in rep_defs)
        escnn_imports = ", ".join(
            sorted({*func.split(", ")} | ({"directsum"} if directsum else set()))
        )
        symm = {"eBatchNorm1d", "eLinear"} | ({"IrrepSubspaceNormPooling"} if invariant else set())
        symm_imports = ", ".join(sorted(symm))
        ctx.update(
            group_func=func,
            group_call=call,
            rep_defs=[{"var": v, "code": c, "comment": m} for v, c, m in rep_defs],
            layers=layers,
            tail=tail,
            imports=[
                "import torch",
                f"from escnn.group import {escnn_imports}",
                f"from symm_learning.nn import {symm_imports}",
            ],
            helpers=["_regular_relu.py.j2"] + (["_invariant_head.py.j2"] if invariant else []),
            class_doc=_class_doc(
                f"{self.plan.group}-{self.plan.symmetry_type.lower()} MLP of projected eLinear "
                "layers (symm-learning).",
                "Every layer exposes ``in_rep``/``out_rep`` (escnn representations), the ReLUs "
                "on regular representations included (``RegularReLU``), so each can be tested "
                "alone.",
            ),
            forward=(
                "return self.head(self.pool(self.layers(x)))"
                if invariant
                else "return self.head(self.layers(x))"
            ),
            in_dim=dim,
            forward_doc=f"(B, {dim}) vectors -> (B, {self.plan.output_dim}) outputs "
            f"[{self.plan.output_repr}], "
            f"{self.plan.symmetry_type.lower()} under {self.plan.group}.",
        )
        return ctx

    def _code(self, layer: LayerPlan, reps: dict[str, str]) -> str:
        if layer.kind == "eLinear":
            return f"eLinear({reps[layer.in_repr]}, {reps[layer.out_repr]})"
        if layer.kind == "eBatchNorm1d":
            return f"eBatchNorm1d({reps[layer.in_repr]})"
        if layer.kind == "ReLU":
            return f"RegularReLU({reps[layer.in_repr]})"
        if layer.kind == "IrrepSubspaceNormPooling":
            return f"IrrepSubspaceNormPooling({reps[layer.in_repr]})"
        if layer.kind == "InvariantHead":
            return (
                f"InvariantHead(G, self.pool.out_rep.size, {int(layer.features or 16)}, "
                f"{self.plan.output_dim})"
            )
        raise ValueError(f"the equivariant MLP template has no layer kind {layer.kind!r}")


class DeepSetsView(_BaseView):
    """DeepSets on sets (template ``deepsets_torch.py.j2``)."""

    template = "deepsets_torch.py.j2"

    def context(self) -> dict[str, Any]:
        p = self.plan
        invariant = p.symmetry_type == "Invariant"
        seen: set[str] = set()
        channels = p.input_channels
        width = p.width
        layers = []
        if invariant:
            codes = {
                "phi": f"PerElementMLP({channels}, {width}, {p.depth})",
                "pool": "SumPool()",
                "rho": f"InvariantMLP({width}, {max(16, 2 * width)}, {p.output_dim})",
            }
            forward = ["return self.rho(self.pool(self.phi(x)))"]
            for layer in p.layers:
                layers.append(LayerView(layer.name, codes[layer.name], _comment(layer, seen)))
        else:
            blocks = []
            for layer in p.layers:
                if layer.kind == "SetLayer":
                    c_in = channels if not blocks else width
                    c_out = p.output_dim if layer.name == "head" else width
                    blocks.append((layer, f"SetLayer({c_in}, {c_out})"))
                else:
                    blocks.append((layer, "torch.nn.ReLU()"))
            body = [code for layer, code in blocks if layer.name != "head"]
            layers.append(
                LayerView(
                    "layers",
                    "torch.nn.Sequential(" + ", ".join(body) + ")",
                    "equivariant set layers with ReLU: every element goes through the same maps",
                )
            )
            head = blocks[-1]
            layers.append(LayerView("head", head[1], _comment(head[0], seen)))
            forward = ["return self.head(self.layers(x))"]
        ctx = self.common()
        ctx.update(
            helpers=["_deepsets_invariant.py.j2" if invariant else "_deepsets_set_layer.py.j2"],
            layers=layers,
            forward=forward,
            class_doc=f"S_n-{p.symmetry_type.lower()} DeepSets model.\n\n    Permuting the set "
            + ("leaves the output unchanged." if invariant else "permutes the outputs alike."),
            forward_doc=f"(B, N, {channels}) sets -> "
            + (f"(B, {p.output_dim})" if invariant else f"(B, N, {p.output_dim})")
            + " outputs.",
            set_size=p.input_size[0],
            channels=channels,
        )
        return ctx


class GNNView(_BaseView):
    """Message-passing GNN on PyG graphs (template ``gnn_pyg.py.j2``)."""

    template = "gnn_pyg.py.j2"

    def context(self) -> dict[str, Any]:
        p = self.plan
        seen: set[str] = set()
        channels, edge = p.input_channels, p.edge_channels
        conv = next(layer.kind for layer in p.layers if layer.name.startswith("convs."))
        width, depth = p.width, sum(1 for layer in p.layers if layer.name.startswith("convs."))
        node_level = not any(layer.name == "pool" for layer in p.layers)
        gin_mlp = f"mlp([{width}, {width}, {width}])"
        if conv == "GATConv":  # 2 attention heads, averaged
            edge_arg = f", edge_dim={edge}" if edge else ""
            conv_code = f"GATConv({width}, {width}, heads=2, concat=False{edge_arg})"
        elif conv == "GINEConv":
            conv_code = f"GINEConv({gin_mlp}, edge_dim={edge})"
        else:
            conv_code = f"GINConv({gin_mlp})"
        codes = {
            "encoder": f"torch.nn.Linear({channels}, {width})",
            "pool": "SumPool()",
            "head": f"mlp([{width}, {max(16, 2 * width)}, {p.output_dim}])",
        }
        layers = []
        first_conv = next(layer for layer in p.layers if layer.name.startswith("convs."))
        for layer in p.layers:
            if layer.name.startswith("convs."):
                if layer is first_conv:
                    layers.append(
                        LayerView(
                            "convs",
                            f"torch.nn.ModuleList([{conv_code} for _ in range({depth})])",
                            _comment(layer, seen),
                        )
                    )
                continue
            layers.append(LayerView(layer.name, codes[layer.name], _comment(layer, seen)))
        nodes = p.input_size[0]
        dtype = ", dtype=torch.float64" if self.float64 else ""
        data_fields = [f"x=torch.randn({nodes}, {channels}, generator=generator{dtype})"]
        data_fields.append("edge_index=edges")
        if edge:
            data_fields.append(
                f"edge_attr=torch.randn({3 * nodes}, {edge}, generator=generator{dtype})"
            )
        ctx = self.common()
        ctx.update(
            imports=[
                "import torch",
                "from torch_geometric.data import Batch, Data",
                f"from torch_geometric.nn import {conv}"
                + ("" if node_level else ", global_add_pool"),
            ],
            helpers=[] if node_level else ["_gnn_sum_pool.py.j2"],
            layers=layers,
            conv_args="h, data.edge_index" + (", data.edge_attr" if edge else ""),
            forward_return="return self.head(h)"
            if node_level
            else "return self.head(self.pool(h, data.batch))",
            nodes=nodes,
            edges=3 * nodes,
            data_fields=data_fields,
            channels=channels,
            class_doc=f"S_n-{p.symmetry_type.lower()} message-passing GNN ({conv}, PyG).\n\n    "
            + (
                "Relabelling the nodes relabels the outputs."
                if node_level
                else "The output does not depend on how the nodes are labelled."
            ),
            forward_doc="A PyG Batch -> "
            + (
                f"(N, {p.output_dim}) node outputs."
                if node_level
                else f"(B, {p.output_dim}) graph outputs."
            ),
        )
        return ctx


class E3nnView(_BaseView):
    """e3nn tensor-product message passing (template ``e3nn_points.py.j2``)."""

    template = "e3nn_points.py.j2"

    def context(self) -> dict[str, Any]:
        from e3nn import o3

        p, o = self.plan, self.plan.options
        node_level, conservative = bool(o["node_level"]), bool(o["conservative"])
        sh = "+".join(f"1x{l}{'e' if l % 2 == 0 else 'o'}" for l in range(int(o["l_max"]) + 1))
        scalars = str(o["scalars"])
        acts = ", ".join(
            "torch.nn.functional.silu" if ir.p == 1 else "torch.tanh"
            for _, ir in o3.Irreps(scalars)
        )
        molecules = bool(o["atom_types"])
        if conservative:
            out_doc = "(B, 1) energies; forces(data) gives -dE/dpos."
        elif o.get("direct_forces"):
            out_doc = "(N, 4): per-atom energy (0e), force (1o)."
        elif node_level:
            out_doc = f"(N, {p.output_dim}) per-node [{p.output_repr}] (e3nn irreps)."
        else:
            out_doc = f"(B, {p.output_dim}) per-graph [{p.output_repr}]."
        merge = bool(o.get("merge_parity"))
        twin = "+".join(
            f"{mul}x{ir.l}{'o' if ir.p == 1 else 'e'}" for mul, ir in o3.Irreps(p.output_repr)
        )
        if merge:
            output_lines = [
                "# the output and its mirror-parity twin, summed (SE(3): mirror images may differ)",
                f'self.output = Interaction(irreps, irreps_sh, "{p.output_repr}+{twin}")',
                f'self.merge_parity = MergeParity("{p.output_repr}", "{twin}")',
            ]
        else:
            output_lines = ["self.output = Interaction(irreps, irreps_sh, str(self.irreps_out))"]
        forward_tail = ["x = self.output(x, edge_index, edge_sh, edge_basis)"]
        forward_tail += ["x = self.merge_parity(x)"] if merge else []
        if node_level:
            forward_tail.append("return x")
        else:
            output_lines.append("self.pool = SumPool(str(self.irreps_out))")
            forward_tail.append("return self.pool(x, data.batch)")
        if conservative:
            methods = ["_e3nn_conservative.py.j2"]
        elif o.get("direct_forces"):
            methods = ["_e3nn_direct_forces.py.j2"]
        else:
            methods = []
        atom_types = int(o["atom_types"])
        in_dim = o3.Irreps(p.input_repr).dim
        points = p.input_size[0]
        if atom_types:
            example_lines = [
                f"types = torch.randint(0, {atom_types}, ({points},), generator=generator)",
                f"x = torch.nn.functional.one_hot(types, {atom_types}).to(dtype)",
                "clouds.append(Data(pos=pos, x=x, z=types))",
            ]
        else:
            example_lines = [
                f"x = torch.randn({points}, {in_dim}, generator=generator, dtype=dtype)",
                "clouds.append(Data(pos=pos, x=x))",
            ]
        ctx = self.common()
        ctx.update(
            max_radius=o["max_radius"],
            num_basis=o["num_basis"],
            avg_neighbors=3.0,
            radial_hidden=max(16, p.width),
            helpers=(["_e3nn_merge_parity.py.j2"] if merge else [])
            + ([] if node_level else ["_e3nn_sum_pool.py.j2"]),
            output_lines=output_lines,
            forward_tail=forward_tail,
            methods=methods,
            scalar_act_names="SiLU" if o["parity"] else "SiLU/tanh",
            example_lines=example_lines,
            example_note=" with one-hot atom types" if atom_types else "",
            irreps_in=p.input_repr,
            irreps_out=p.output_repr,
            irreps_sh=sh,
            hidden=f"{scalars}+{o['gated']}",
            scalars=scalars,
            scalar_acts=f"[{acts}]",
            gates=o["gates"],
            gated=o["gated"],
            depth=p.depth,
            class_doc=f"{p.group}-{p.symmetry_type.lower()} tensor-product network (e3nn).\n\n"
            "    Relative positions, spherical harmonics and gated nonlinearities keep every layer\n"
            "    equivariant; each layer declares irreps_in/irreps_out.",
            forward_doc=f"A PyG Batch (pos (N, 3), x (N, {o3.Irreps(p.input_repr).dim})) -> "
            + out_doc,
            what="molecules" if molecules else "point clouds",
            points=points,
            spread=1.2,
            dtype=p.dtype,
        )
        return ctx


def _pooled_tail(attr: str, kind: str) -> list[str]:
    """The invariant end of an escnn forward: pool over the group, cast, pool over the grid."""
    return [
        f"h = self.{attr}(h)",
        f"# escnn's {kind} returns float32 whatever the input's dtype: cast back, so that a",
        "# float64 model stays float64 (the pooled values have been rounded to float32 there)",
        "h = enn.GeometricTensor(h.tensor.to(x.dtype), h.type)",
        "h = self.spatial_pool(h)",
        "return self.head(h.tensor.flatten(1))",
    ]


def _reps(group: GroupInfo, expr: str):
    from ..groups import build_rep_list

    return build_rep_list(group, expr)


VIEWS = {
    "gcnn_escnn": GCNNView,
    "emlp_symm_learning": EMLPView,
    "deepsets_torch": DeepSetsView,
    "gnn_pyg": GNNView,
    "e3nn_points": E3nnView,
    "steerable_escnn": SteerableView,
    "voxels_escnn": VoxelsView,
}
