"""The spec as pydantic models (no torch, no escnn: validating a spec is instant).

Single values are checked by :mod:`._values`, rules across fields by the table in
:mod:`._rules`; every model forbids unknown keys. Integers are strict: ``true``, ``'5'`` and
``5.0`` are not integers in a spec.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    model_validator,
)

from ..groups import (
    GROUP_NAMES_HELP,
    MAX_GROUP_ORDER,
    MAX_REP_DIM,
    REP_NAMES_HELP,
    GroupInfo,
    group_name_pattern,
    parse_group,
)
from ._origin import SpecOrigin
from ._rules import check_scope, flatten
from ._values import (
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    SpecValueError,
    canonical_group,
    check_identifier,
    check_printable,
    check_representation,
)

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "Constraints",
    "DesignSpec",
    "Domain",
    "InputSpec",
    "OutputSpec",
    "TaskKind",
    "TaskSpec",
    "task_shorthand",
]

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
#: tasks whose ``targets`` default to one output
_TARGET_TASKS = ("regression", "node_regression")
DESCRIPTION_MAX_LENGTH = 500

Int = Annotated[int, Strict()]
Size = Annotated[int, Strict(), Field(ge=3, le=4096)]
Representation = Annotated[str, AfterValidator(check_representation)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the dotted path of this model in a spec; it checks the rules of that scope
    rule_scope: ClassVar[str] = ""

    def _check_rules(self) -> None:
        prefix = f"{self.rule_scope}." if self.rule_scope else ""
        check_scope(flatten(self.model_dump(), prefix), self.rule_scope)


def task_shorthand(value: Any) -> Any:
    """``task: regression`` means ``task: {kind: regression}``."""
    return {"kind": value} if isinstance(value, str) else value


class TaskSpec(_Model):
    """What the model predicts."""

    rule_scope: ClassVar[str] = "task"

    kind: TaskKind = Field(
        description="what is predicted: classification, regression, segmentation, forces, "
        "energy_forces, node_classification or node_regression",
        examples=["classification"],
    )
    classes: Int | None = Field(
        default=None,
        ge=2,
        description="number of classes; required for classification, segmentation and "
        "node_classification, not allowed otherwise",
        examples=[10],
    )
    targets: Int | None = Field(
        default=None,
        ge=1,
        description="number of predicted values (regression); default 1 for regression and "
        "node_regression, not allowed for class-predicting tasks",
        examples=[1],
    )

    conservative: Annotated[bool, Strict()] | None = Field(
        default=None,
        description="energy_forces only: forces as -dE/dpositions of the predicted energy "
        "(true, the default: they conserve energy) or a separate l=1 output per atom (false: "
        "one forward pass, forces not exactly a gradient)",
        examples=[True],
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return task_shorthand(value)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> TaskSpec:
        self._check_rules()
        if self.kind in _TARGET_TASKS and self.targets is None:
            self.targets = 1
        if self.kind == "energy_forces" and self.conservative is None:
            self.conservative = True
        return self


class InputSpec(_Model):
    """What the model takes, and how the group acts on it."""

    rule_scope: ClassVar[str] = "input"

    representation: Representation = Field(
        default="trivial",
        description="how the group acts on the input: per pixel for images ('3 x trivial' = RGB), "
        f"on the whole vector for 'vector' (e.g. '2 x regular'); {REP_NAMES_HELP}; "
        f"irreps the group has, at most {MAX_REP_DIM:,} dimensions",
        examples=["3 x trivial"],
    )
    size: Size | Annotated[list[Size], Field(min_length=2, max_length=3)] | None = Field(
        default=None,
        description="image size from 3 to 4096: N or [H, W] (image2d), N or [D, H, W] (image3d), "
        "required for images; the number of elements of example inputs for sets, graphs and "
        "point clouds; not allowed for vectors",
        examples=[29],
    )
    channels: Int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="features per set element or graph node (required for set and graph)",
        examples=[8],
    )
    edge_channels: Int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="features per graph edge (graphs with edge features)",
        examples=[4],
    )
    atom_types: Int | None = Field(
        default=None,
        ge=1,
        le=128,
        description="number of atom species (molecules: one-hot node types)",
        examples=[5],
    )


class OutputSpec(_Model):
    """What the model returns and how the group acts on it."""

    rule_scope: ClassVar[str] = "output"

    type: Literal["invariant", "equivariant"] = Field(
        description="invariant (the group does not change it) or equivariant (it transforms "
        "with the input)",
        examples=["invariant"],
    )
    representation: Representation | None = Field(
        default=None,
        description="how the group acts on an equivariant output, per class (classes) or per "
        "target (targets): the model returns that many copies of it, class-major (per pixel for "
        "dense outputs); required when equivariant, not allowed when invariant",
        examples=["regular"],
    )

    @model_validator(mode="after")
    def _representation_for_type(self) -> OutputSpec:
        self._check_rules()
        return self


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise SpecValueError(
            f"{value} is even; kernel sizes must be odd: an even kernel has no centre pixel, so "
            "rotations about the centre move it off the grid; use 3, 5 or 7"
        )
    return value


class Constraints(_Model):
    """Size and numerics of the model."""

    rule_scope: ClassVar[str] = "constraints"

    width: Int = Field(
        default=8,
        ge=1,
        le=1024,
        description="channels per hidden layer: copies of the regular representation (fields)",
    )
    depth: Int = Field(default=3, ge=1, le=64, description="number of hidden blocks")
    kernel_size: Annotated[Int, AfterValidator(_odd)] = Field(
        default=5,
        ge=1,
        le=31,
        description="convolution kernel size (odd, so it has a centre)",
        json_schema_extra={"not": {"multipleOf": 2}},
    )
    max_params: Int | None = Field(
        default=None,
        ge=1,
        description="upper bound on trainable parameters; the width shrinks to fit",
        examples=[100000],
    )
    dtype: Literal["float32", "float64"] = Field(
        default="float32", description="dtype of the parameters"
    )
    seed: Int = Field(default=0, ge=0, description="seed of parameter initialisation")
    message_passing: Literal["gin", "gat"] | None = Field(
        default=None,
        description="graphs only: the convolution, 'gin' (GIN, or GINE with edge features; "
        "the default) or 'gat' (attention over each node's neighbours)",
        examples=["gat"],
    )
    nonlinearity: Literal["fourier", "norm", "gated"] | None = Field(
        default=None,
        description="SO2/O2 images only: the steerable CNN's nonlinearity, 'fourier' (FourierELU "
        "with IID batch norm; the default), 'norm' (norm ReLU with NormBatchNorm) or 'gated' "
        "(sigmoid gates with GNormBatchNorm; float32 only: escnn's gated nonlinearity writes "
        "float32)",
        examples=["norm"],
    )


class DesignSpec(_Model):
    """A design spec: group, domain, task, input, output and constraints."""

    name: Annotated[str, AfterValidator(check_identifier)] = Field(
        json_schema_extra={"pattern": NAME_PATTERN, "maxLength": NAME_MAX_LENGTH},
        description="a Python identifier (ASCII, not starting with '_', not a keyword, at most "
        f"{NAME_MAX_LENGTH} characters); names the generated class and module",
        examples=["c4_classifier"],
    )
    description: Annotated[str, AfterValidator(check_printable)] = Field(
        default="",
        max_length=DESCRIPTION_MAX_LENGTH,
        description="free text for the generated docstring (printable characters and newlines, "
        f"at most {DESCRIPTION_MAX_LENGTH} characters)",
    )
    group: Annotated[str, AfterValidator(canonical_group)] = Field(
        description=f"the symmetry group; {GROUP_NAMES_HELP}; finite groups have at most "
        f"{MAX_GROUP_ORDER} elements (C<n> up to C{MAX_GROUP_ORDER}, D<n> up to "
        f"D{MAX_GROUP_ORDER // 2}), and products of finite groups such as 'C2 x D4' act on "
        "vectors",
        examples=["C4"],
        json_schema_extra={"pattern": group_name_pattern()},
    )
    domain: Domain = Field(
        description="the data: vector, image2d, image3d, point_cloud, graph or set",
        examples=["image2d"],
    )
    task: TaskSpec = Field(
        description="what the model predicts: a mapping, or a bare kind that needs no other field "
        "(task: regression)",
        examples=[{"kind": "classification", "classes": 10}],
    )
    input: InputSpec = Field(
        default_factory=InputSpec,
        description="how the group acts on the input, and its size",
    )
    output: OutputSpec = Field(
        description="invariant or equivariant, with its representation",
        examples=[{"type": "invariant"}],
    )
    constraints: Constraints = Field(
        default_factory=Constraints,
        description="width, depth, kernel size, parameter budget, dtype and seed",
    )

    #: where the spec was loaded from, to locate errors found after loading
    _origin: SpecOrigin = PrivateAttr(default_factory=SpecOrigin)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> DesignSpec:
        self._check_rules()
        return self

    @property
    def origin(self) -> SpecOrigin:
        """The file and YAML nodes the spec came from (equal for every spec)."""
        return self._origin

    @property
    def group_info(self) -> GroupInfo:
        """The group from the catalogue."""
        return parse_group(self.group)

    def spec_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of the spec: independent of key order and layout.

        Unset options (``None``) are left out, so that a new optional field does not change the
        hash of every existing spec.
        """
        text = json.dumps(
            self.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def to_yaml(self) -> str:
        """The spec as canonical YAML: keys in field order, defaults written out.

        Options that are unset (``None``) are left out, so that the text loads back to an equal
        spec and reads like one a person wrote.
        """
        return yaml.dump(
            self.model_dump(mode="json", exclude_none=True),
            Dumper=_SpecDumper,
            sort_keys=False,
            default_flow_style=False,
            width=YAML_WIDTH,
        )


class _SpecDumper(yaml.SafeDumper):
    """Safe YAML, with multi-line text (a description) as a literal ``|`` block."""


#: generated docstrings embed the spec's YAML indented by 4 within 100 columns: PyYAML folds
#: plain scalars past ``YAML_WIDTH`` (it may overshoot by a word), and a multi-line text stays a
#: literal block (indented by 2) only when its every line fits in ``_LONGEST_YAML_LINE``
YAML_WIDTH = 88
_LONGEST_YAML_LINE = 96


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    multi_line = "\n" in value and all(
        line == line.rstrip() and 2 + len(line) <= _LONGEST_YAML_LINE for line in value.splitlines()
    )
    style = "|" if multi_line else None  # else quoted and folded at the width
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SpecDumper.add_representer(str, _text)
