"""The spec as pydantic models (no torch, no escnn: validating a spec is instant)."""

from __future__ import annotations

import hashlib
import json
import keyword
import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..errors import EquidesignError
from ..groups import GROUP_NAMES_HELP, GroupInfo, parse_group, parse_rep_expr

__all__ = ["TaskSpec", "InputSpec", "OutputSpec", "Constraints", "DesignSpec", "CROSS_RULES"]

Domain = Literal["vector", "image2d", "image3d", "point_cloud", "graph", "set"]
TaskKind = Literal[
    "classification",
    "regression",
    "segmentation",
    "forces",
    "energy_forces",
    "node_classification",
    "node_regression",
]
_CLASS_TASKS = {"classification", "segmentation", "node_classification"}
_TARGET_TASKS = {"regression", "node_regression"}
_IMAGE_DOMAINS = {"image2d", "image3d"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


def _rep(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_rep_expr(value)
    except EquidesignError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


class TaskSpec(_Model):
    """What the model predicts."""

    kind: TaskKind = Field(description="classification, regression, segmentation, forces, ...")
    classes: int | None = Field(
        default=None, ge=2, description="number of classes (classification, segmentation)"
    )
    targets: int | None = Field(default=None, ge=1, description="number of regression targets")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fields_for_kind(self) -> TaskSpec:
        if self.kind in _CLASS_TASKS and self.classes is None:
            raise PydanticCustomError(
                "spec_missing",
                "{kind} needs the number of classes; add e.g. 'classes: 10' under task",
                {"kind": self.kind, "field": "classes"},
            )
        if self.kind not in _CLASS_TASKS and self.classes is not None:
            raise PydanticCustomError(
                "spec_forbidden",
                "{kind} has no classes; remove 'classes' (use 'targets' for regression)",
                {"kind": self.kind, "field": "classes"},
            )
        if self.kind in _CLASS_TASKS and self.targets is not None:
            raise PydanticCustomError(
                "spec_forbidden",
                "{kind} predicts classes, not targets; remove 'targets'",
                {"kind": self.kind, "field": "targets"},
            )
        if self.kind in _TARGET_TASKS and self.targets is None:
            self.targets = 1
        return self


class InputSpec(_Model):
    """What the model takes."""

    representation: str = Field(
        default="trivial",
        description="how the group acts on the input: per pixel for images ('3 x trivial' = RGB), "
        "on the whole vector for 'vector' (e.g. '2 x regular')",
    )
    size: int | list[int] | None = Field(
        default=None,
        description="spatial size of images: H (square) or [H, W] (image2d), [D, H, W] (image3d); "
        "for sets, graphs and point clouds the number of elements/nodes in example inputs",
    )
    channels: int | None = Field(
        default=None, ge=1, le=4096, description="features per set element or graph node"
    )
    edge_channels: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="features per graph edge (graphs with edge features)",
    )
    atom_types: int | None = Field(
        default=None,
        ge=1,
        le=128,
        description="number of atom species (molecules: one-hot node types)",
    )

    _rep = field_validator("representation")(classmethod(lambda cls, v: _rep(v)))

    @field_validator("size")
    @classmethod
    def _size(cls, value: int | list[int] | None) -> int | list[int] | None:
        sizes = [value] if isinstance(value, int) else (value or [])
        for n in sizes:
            if not 3 <= n <= 4096:
                raise ValueError(f"size {n} is out of range; use sizes from 3 to 4096 pixels")
        if isinstance(value, list) and len(value) not in (2, 3):
            raise ValueError(f"{value} has {len(value)} entries; use H, [H, W] or [D, H, W]")
        return value


class OutputSpec(_Model):
    """What the model returns and how the group acts on it."""

    type: Literal["invariant", "equivariant"] = Field(
        description="invariant (the group does not change it) or equivariant"
    )
    representation: str | None = Field(
        default=None,
        description="how the group acts on an equivariant output (per pixel for dense outputs)",
    )

    _rep = field_validator("representation")(classmethod(lambda cls, v: _rep(v)))

    @model_validator(mode="after")
    def _rep_for_type(self) -> OutputSpec:
        if self.type == "equivariant" and self.representation is None:
            raise PydanticCustomError(
                "spec_missing",
                "an equivariant output needs its representation; add e.g. 'representation: "
                "regular' under output",
                {"field": "representation"},
            )
        if self.type == "invariant" and self.representation is not None:
            raise PydanticCustomError(
                "spec_forbidden",
                "an invariant output has the trivial action; remove 'representation' or use "
                "'type: equivariant'",
                {"field": "representation"},
            )
        return self


class Constraints(_Model):
    """Size and numerics of the model."""

    width: int = Field(default=8, ge=1, le=1024, description="fields (regular copies) per layer")
    depth: int = Field(default=3, ge=1, le=64, description="number of hidden blocks")
    kernel_size: int = Field(default=5, ge=1, le=31, description="convolution kernel size (odd)")
    max_params: int | None = Field(default=None, ge=1, description="upper bound on parameters")
    dtype: Literal["float32", "float64"] = Field(default="float32", description="parameter dtype")
    seed: int = Field(default=0, ge=0, description="seed of parameter initialisation")

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(
                f"{value} is even; kernel sizes must be odd: an even kernel has no centre pixel, "
                "so rotations about the centre move it off the grid; use 3, 5 or 7"
            )
        return value


#: (condition on the spec, field path, message) -- the cross-field rules, as data
CROSS_RULES: tuple[tuple[Any, str, str], ...] = (
    (
        lambda s: s.task.kind == "segmentation" and s.domain not in _IMAGE_DOMAINS,
        "task.kind",
        "segmentation predicts per-pixel outputs; use domain image2d or image3d",
    ),
    (
        lambda s: s.task.kind in ("forces", "energy_forces") and s.domain != "point_cloud",
        "task.kind",
        "forces are per-atom vectors; use domain point_cloud",
    ),
    (
        lambda s: s.task.kind == "node_classification" and s.domain != "graph",
        "task.kind",
        "node_classification labels graph nodes; use domain graph",
    ),
    (
        lambda s: s.task.kind == "node_regression" and s.domain not in ("graph", "point_cloud"),
        "task.kind",
        "node_regression predicts per-node values; use domain graph or point_cloud",
    ),
    (
        lambda s: s.task.kind == "segmentation" and s.output.type != "equivariant",
        "output.type",
        "segmentation outputs move with the image; use 'type: equivariant' with "
        "'representation: trivial' (per-pixel class scores)",
    ),
    (
        lambda s: s.task.kind == "classification" and s.output.type != "invariant",
        "output.type",
        "class scores do not change when the input is transformed; use 'type: invariant'",
    ),
    (
        lambda s: s.domain in _IMAGE_DOMAINS and s.input.size is None,
        "input.size",
        "images need a size; add e.g. 'size: 29' under input",
    ),
    (
        lambda s: s.domain == "vector" and s.input.size is not None,
        "input.size",
        "vectors have no size (their dimension is the representation's); remove it",
    ),
    (
        lambda s: s.domain not in _IMAGE_DOMAINS and isinstance(s.input.size, list),
        "input.size",
        "sets, graphs and point clouds take one number of elements, not a list",
    ),
    (
        lambda s: s.domain in ("set", "graph") and s.input.channels is None,
        "input.channels",
        "sets and graphs need the number of features per element; add e.g. 'channels: 8' "
        "under input",
    ),
    (
        lambda s: s.domain not in ("set", "graph") and s.input.channels is not None,
        "input.channels",
        "only sets and graphs take channels (images and vectors: use representation)",
    ),
    (
        lambda s: s.domain != "graph" and s.input.edge_channels is not None,
        "input.edge_channels",
        "only graphs have edge features; remove it",
    ),
    (
        lambda s: s.domain != "point_cloud" and s.input.atom_types is not None,
        "input.atom_types",
        "atom types are for molecules (domain point_cloud); remove it",
    ),
)


class DesignSpec(_Model):
    """A design spec: group, domain, task, output and constraints."""

    name: str = Field(description="a Python identifier; names the generated class and module")
    description: str = Field(default="", description="free text for the generated docstring")
    group: str = Field(description=f"the symmetry group; {GROUP_NAMES_HELP}")
    domain: Domain = Field(description="vector, image2d, image3d, point_cloud, graph or set")
    task: TaskSpec = Field(description="what the model predicts (a mapping, or a bare kind)")
    input: InputSpec = Field(
        default_factory=InputSpec, description="how the group acts on the input, and its size"
    )
    output: OutputSpec = Field(description="invariant or equivariant, with its representation")
    constraints: Constraints = Field(
        default_factory=Constraints, description="width, depth, kernel, budget, dtype, seed"
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if (
            not value.isidentifier()
            or keyword.iskeyword(value)
            or value.startswith("_")
            or len(value) > 64
            or not value.isascii()
        ):
            raise ValueError(
                f"{value!r} is not a valid name; use a Python identifier of ASCII letters, digits "
                "and underscores, not starting with '_' or a digit, at most 64 characters, e.g. "
                "c4_classifier"
            )
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        if len(value) > 500:
            raise ValueError(f"{len(value)} characters; keep the description under 500")
        if _CONTROL.search(value.replace("\t", " ")):
            raise ValueError("contains control characters; use plain text and newlines")
        return value

    @field_validator("group")
    @classmethod
    def _group(cls, value: str) -> str:
        try:
            return parse_group(value).name
        except EquidesignError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None

    @model_validator(mode="after")
    def _cross(self) -> DesignSpec:
        problems = [(f, m) for cond, f, m in CROSS_RULES if cond(self)]
        if problems:
            raise PydanticCustomError(
                "spec_cross",
                "\n".join(m for _, m in problems),
                {"fields": [f for f, _ in problems]},
            )
        return self

    @property
    def group_info(self) -> GroupInfo:
        return parse_group(self.group)

    def spec_hash(self) -> str:
        """sha256 of the canonical JSON of the spec (independent of key order and formatting)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_yaml(self) -> str:
        """The spec as canonical YAML (field order, defaults written out, unset options left out)."""
        return yaml.safe_dump(
            self.model_dump(mode="json", exclude_none=True),
            sort_keys=False,
            default_flow_style=False,
            width=100,
        )
