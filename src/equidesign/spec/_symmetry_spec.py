"""The symmetry file of ``equidesign audit``: how a group acts on a user model's inputs and
outputs, in the spec's vocabulary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from ..groups import GROUP_NAMES_HELP, group_name_pattern
from ._rules import SpecRule, check_scope
from ._values import SpecValueError, canonical_group, check_representation, representation_problem

__all__ = ["SYMMETRY_RULES", "LieDerivativeOptions", "SymmetrySpec", "load_symmetry_spec"]

Int = Annotated[int, Strict()]


_PERMUTATION_DOMAINS = ("set", "graph")
_MOVES = ("invariant", "equivariant")


def _output_representation(value: str) -> str:
    if value.strip().lower() not in _MOVES:
        check_representation(value)
    return value


def _input_representation(value: str) -> str:
    if value.strip().lower() != "none":
        check_representation(value)
    return value


def _group_problem(v: Any, side: str) -> str | None:
    """The representation named on ``side`` against the group (sets and graphs permute
    elements; 'none', 'invariant' and 'equivariant' name no representation)."""
    value = v[side]
    if v["domain"] in _PERMUTATION_DOMAINS or value.strip().lower() in ("none", *_MOVES):
        return None
    return representation_problem(v["group"], v["domain"], value)


def _group_rule(side: str) -> SpecRule:
    return SpecRule(
        field=side,
        reads=("group", "domain", side),
        broken=lambda v: _group_problem(v, side) is not None,
        message=lambda v: _group_problem(v, side) or "",
        position="value",
        doc=f"the {side} representation is one `group` has",
    )


SYMMETRY_RULES: tuple[SpecRule, ...] = (
    _group_rule("input"),
    _group_rule("output"),
    SpecRule(
        field="size",
        reads=("domain", "size"),
        broken=lambda v: (
            v["domain"] in ("vector", "graph", "point_cloud") and v["size"] is not None
        ),
        message=lambda v: (
            f"{v['domain']} inputs have no size here (the factory returns the inputs); remove it"
        ),
        position="key",
        doc="`vector`, `graph` and `point_cloud` must not have `size`",
    ),
    SpecRule(
        field="output",
        reads=("domain", "output"),
        broken=lambda v: (
            v["domain"] in _PERMUTATION_DOMAINS and v["output"].strip().lower() not in _MOVES
        ),
        message=lambda v: (
            f"{v['domain']} outputs are 'invariant' (one per {v['domain']}) or 'equivariant' "
            f"(one row per {'element' if v['domain'] == 'set' else 'node'}), not {v['output']!r}"
        ),
        position="value",
        doc="`set` and `graph` outputs are `invariant` or `equivariant`",
    ),
    SpecRule(
        field="output",
        reads=("domain", "output"),
        broken=lambda v: (
            v["domain"] not in _PERMUTATION_DOMAINS and v["output"].strip().lower() == "equivariant"
        ),
        message=lambda v: (
            f"name the representation the group acts by on a {v['domain']} output (e.g. "
            f"{'1x1o' if v['domain'] == 'point_cloud' else 'regular'}), or 'invariant'"
        ),
        position="value",
        doc="outputs of other domains are `invariant` or a representation",
    ),
    SpecRule(
        field="node_level",
        reads=("domain", "node_level"),
        broken=lambda v: v["domain"] != "point_cloud" and v["node_level"],
        message=lambda v: (
            "node_level is for point clouds (graphs: 'output: equivariant'); remove it"
        ),
        position="key",
        doc="only `point_cloud` may have `node_level`",
    ),
    SpecRule(
        field="translations",
        reads=("domain", "translations"),
        broken=lambda v: v["domain"] != "point_cloud" and not v["translations"],
        message=lambda v: "translations are for point clouds; remove it",
        position="key",
        doc="only `point_cloud` may have `translations`",
    ),
    SpecRule(
        field="node_attrs",
        reads=("domain", "node_attrs"),
        broken=lambda v: v["domain"] != "point_cloud" and v["node_attrs"],
        message=lambda v: "node_attrs are for point clouds; remove it",
        position="key",
        doc="only `point_cloud` may have `node_attrs`",
    ),
    SpecRule(
        field="forces",
        reads=("domain", "forces"),
        broken=lambda v: v["domain"] != "point_cloud" and v["forces"],
        message=lambda v: "forces are for point clouds (an energy model); remove it",
        position="key",
        doc="only `point_cloud` may have `forces`",
    ),
)


_GENERATORS = (
    "translate_x",
    "translate_y",
    "rotate",
    "shear",
    "scale",
    *(f"{m}_{a}" for m in ("rotate", "translate") for a in "xyz"),
)


def _generator_names(value: list[str] | None) -> list[str] | None:
    for name in value or []:
        if name not in _GENERATORS:
            raise SpecValueError(
                f"generator {name!r} unknown; images: translate_x, translate_y, rotate, shear, "
                "scale; point clouds: rotate_x/y/z, translate_x/y/z"
            )
    return value


class LieDerivativeOptions(BaseModel):
    """``lie_derivative:`` -- ``true``/``false``, or a mapping: the Lie derivative, with these
    options."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="compute the Lie derivative")

    generators: Annotated[list[str] | None, AfterValidator(_generator_names)] = Field(
        default=None, description="which generators (default: all of the domain's)"
    )
    padding: Literal["reflection", "circular", "zeros"] = Field(
        default="reflection",
        description="how images continue beyond their border while they are moved: mirrored "
        "(default), circular (models on a torus: circular padding everywhere), zeros (a black "
        "background)",
    )
    normalization: Literal["relative", "softmax", "absolute"] = Field(
        default="relative",
        description="LEE per input: relative ||L_X f|| / ||f(x) - f(0)||, softmax (classifiers, "
        "the paper's mean |L_X softmax(f)|), absolute mean |L_X f|",
    )


class SymmetrySpec(BaseModel):
    """How the group acts on what the model takes and returns."""

    model_config = ConfigDict(extra="forbid")

    domain: Literal["image2d", "image3d", "vector", "set", "graph", "point_cloud"] = Field(
        description="image2d (B, C, H, W), image3d (B, C, D, H, W), vector (B, D), set "
        "(B, N, C), graph or point_cloud (a PyG Data/Batch the factory returns)"
    )
    group: Annotated[str, AfterValidator(canonical_group)] = Field(
        description=f"the symmetry group; {GROUP_NAMES_HELP}",
        examples=["C4"],
        json_schema_extra={"pattern": group_name_pattern()},
    )
    input: Annotated[str, AfterValidator(_input_representation)] = Field(
        default="trivial",
        description="representation on the input: per pixel for images, the whole vector for "
        "vectors, e3nn irreps of the node features x for point clouds ('none': positions "
        "only); ignored for sets and graphs (their features are permuted, not transformed)",
    )
    output: Annotated[str, AfterValidator(_output_representation)] = Field(
        default="invariant",
        description="'invariant', or the representation on the output (per pixel for dense "
        "maps, e3nn irreps for point clouds); 'equivariant' for per-element set and per-node "
        "graph outputs",
    )
    size: Annotated[int, Strict(), Field(ge=3, le=4096)] | list[Int] | None = Field(
        default=None,
        description="image size (or set size) for random inputs when the factory gives none",
    )
    channels: Annotated[int, Strict(), Field(ge=1, le=4096)] | None = Field(
        default=None, description="features per set element for random inputs"
    )
    node_level: bool = Field(
        default=False, description="point clouds: one output row per node (else per graph)"
    )
    forces: bool = Field(
        default=False,
        description="point clouds: the output is an energy; test the forces -dE/dpos too",
    )
    translations: bool = Field(
        default=True,
        description="point clouds: translate the clouds too (false for a model that reads "
        "absolute positions by design, or to audit rotations alone)",
    )
    node_attrs: dict[str, str] | None = Field(
        default=None,
        description="point clouds: how further node attributes transform, e.g. {v: 1x1o} "
        "(e3nn irreps) or {q: invariant}; other per-node attributes (atom types z, charges, "
        "masks) move with the nodes as invariants",
    )
    lie_derivative: LieDerivativeOptions | None = Field(
        default=None,
        description="also compute the Lie derivative (default: continuous groups); a mapping "
        "turns it on with options: generators, padding, normalization",
    )
    seed: Int = Field(default=0, ge=0, description="seed of inputs, elements and probes")
    n_inputs: Int = Field(default=4, ge=1, le=1024, description="random inputs when needed")
    dtype: Literal["float32", "float64"] | None = Field(
        default=None, description="dtype of the audit (default: the model's)"
    )

    @field_validator("lie_derivative", mode="before")
    @classmethod
    def _lie_switch(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _rules(self) -> SymmetrySpec:
        check_scope(self.model_dump(), "", SYMMETRY_RULES)
        return self

    def lie_options(self) -> bool | dict | None:
        """What ``audit(lie_derivative=...)`` takes: None, a bool, or a dict of options."""
        value = self.lie_derivative
        if value is None or not value.enabled:
            return None if value is None else False
        return value.model_dump(exclude={"enabled"})

    def symmetry(self) -> Any:
        """The :class:`~equidesign.symmetry.Symmetry` this file describes."""
        from ..symmetry import Symmetry

        output = self.output.strip()
        if self.domain in ("image2d", "image3d"):
            size = tuple(self.size) if isinstance(self.size, list) else self.size
            return Symmetry.images(self.group, self.input, output, size=size)
        if self.domain == "set":
            size = self.size[0] if isinstance(self.size, list) else self.size
            return Symmetry.sets(output.lower(), size=size, channels=self.channels)
        if self.domain == "graph":
            return Symmetry.graphs(node_level=output.lower() == "equivariant")
        if self.domain == "point_cloud":
            irreps_in = None if self.input.strip().lower() == "none" else self.input
            return Symmetry.point_clouds(
                irreps_in,
                output,
                self.translations,
                group=self.group,
                node_level=self.node_level,
                forces=self.forces,
                node_attrs=self.node_attrs,
            )
        return Symmetry.vectors(self.group, self.input, output)


def load_symmetry_spec(source: Any) -> SymmetrySpec:
    """A symmetry file from a path, YAML text or a dict, with located one-line problems.

    Raises:
        SpecError: every problem at once, one line each.
    """
    from ._loader import load_model

    return load_model(SymmetrySpec, source, "symmetry file", SYMMETRY_RULES)
