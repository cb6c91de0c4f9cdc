"""The symmetry file of ``equidesign audit``: how a group acts on a user model's inputs and
outputs, in the spec's vocabulary."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..errors import EquidesignError
from ..groups import GROUP_NAMES_HELP, parse_group, parse_rep_expr

__all__ = ["SymmetrySpec", "load_symmetry_spec"]


class SymmetrySpec(BaseModel):
    """How the group acts on what the model takes and returns."""

    model_config = ConfigDict(extra="forbid")

    domain: Literal["image2d", "vector"] = Field(
        description="image2d (B, C, H, W) or vector (B, D)"
    )
    group: str = Field(description=f"the symmetry group; {GROUP_NAMES_HELP}")
    input: str = Field(
        default="trivial",
        description="representation on the input: per pixel for images, the whole vector otherwise",
    )
    output: str = Field(
        default="invariant",
        description="'invariant', or the representation on the output (per pixel for dense maps)",
    )
    size: int | list[int] | None = Field(
        default=None, description="image size for random inputs when the factory gives none"
    )
    lie_derivative: bool | None = Field(
        default=None, description="also compute the Lie derivative (default: continuous groups)"
    )
    seed: int = Field(default=0, ge=0, description="seed of inputs, elements and probes")
    n_inputs: int = Field(default=4, ge=1, le=1024, description="random inputs when needed")
    dtype: Literal["float32", "float64"] | None = Field(
        default=None, description="dtype of the audit (default: the model's)"
    )

    @field_validator("group")
    @classmethod
    def _group(cls, value: str) -> str:
        try:
            return parse_group(value).name
        except EquidesignError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None

    @field_validator("input")
    @classmethod
    def _input(cls, value: str) -> str:
        try:
            parse_rep_expr(value)
        except EquidesignError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        return value

    @field_validator("output")
    @classmethod
    def _output(cls, value: str) -> str:
        if value.strip().lower() != "invariant":
            cls._input(value)
        return value

    @model_validator(mode="after")
    def _size_for_images(self) -> SymmetrySpec:
        if self.domain == "vector" and self.size is not None:
            raise PydanticCustomError(
                "spec_forbidden", "vectors have no size; remove it", {"field": "size"}
            )
        return self

    def symmetry(self) -> Any:
        """The :class:`~equidesign.symmetry.Symmetry` this file describes."""
        from ..symmetry import Symmetry

        if self.domain == "image2d":
            size = tuple(self.size) if isinstance(self.size, list) else self.size
            return Symmetry.images(self.group, self.input, self.output, size=size)
        return Symmetry.vectors(self.group, self.input, self.output)


def load_symmetry_spec(source: Any) -> SymmetrySpec:
    """A symmetry file from a path, YAML text or a dict, with located one-line problems."""
    from ._loader import load_model

    return load_model(SymmetrySpec, source, "symmetry file")
