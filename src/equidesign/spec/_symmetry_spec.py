"""The symmetry file of ``equidesign audit``: how a group acts on a user model's inputs and
outputs, in the spec's vocabulary."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from ..groups import GROUP_NAMES_HELP
from ._rules import SpecRule, check_scope
from ._values import canonical_group, check_representation

__all__ = ["SYMMETRY_RULES", "SymmetrySpec", "load_symmetry_spec"]

Int = Annotated[int, Strict()]


def _output_representation(value: str) -> str:
    if value.strip().lower() != "invariant":
        check_representation(value)
    return value


SYMMETRY_RULES: tuple[SpecRule, ...] = (
    SpecRule(
        field="size",
        reads=("domain", "size"),
        broken=lambda v: v["domain"] == "vector" and v["size"] is not None,
        message=lambda v: "vectors have no size; remove it",
        position="key",
        doc="`vector` must not have `size`",
    ),
)


class SymmetrySpec(BaseModel):
    """How the group acts on what the model takes and returns."""

    model_config = ConfigDict(extra="forbid")

    domain: Literal["image2d", "vector"] = Field(
        description="image2d (B, C, H, W) or vector (B, D)"
    )
    group: Annotated[str, AfterValidator(canonical_group)] = Field(
        description=f"the symmetry group; {GROUP_NAMES_HELP}", examples=["C4"]
    )
    input: Annotated[str, AfterValidator(check_representation)] = Field(
        default="trivial",
        description="representation on the input: per pixel for images, the whole vector otherwise",
    )
    output: Annotated[str, AfterValidator(_output_representation)] = Field(
        default="invariant",
        description="'invariant', or the representation on the output (per pixel for dense maps)",
    )
    size: Annotated[int, Strict(), Field(ge=3, le=4096)] | list[Int] | None = Field(
        default=None, description="image size for random inputs when the factory gives none"
    )
    lie_derivative: bool | None = Field(
        default=None, description="also compute the Lie derivative (default: continuous groups)"
    )
    seed: Int = Field(default=0, ge=0, description="seed of inputs, elements and probes")
    n_inputs: Int = Field(default=4, ge=1, le=1024, description="random inputs when needed")
    dtype: Literal["float32", "float64"] | None = Field(
        default=None, description="dtype of the audit (default: the model's)"
    )

    @model_validator(mode="after")
    def _rules(self) -> SymmetrySpec:
        check_scope(self.model_dump(), "", SYMMETRY_RULES)
        return self

    def symmetry(self) -> Any:
        """The :class:`~equidesign.symmetry.Symmetry` this file describes."""
        from ..symmetry import Symmetry

        if self.domain == "image2d":
            size = tuple(self.size) if isinstance(self.size, list) else self.size
            return Symmetry.images(self.group, self.input, self.output, size=size)
        return Symmetry.vectors(self.group, self.input, self.output)


def load_symmetry_spec(source: Any) -> SymmetrySpec:
    """A symmetry file from a path, YAML text or a dict, with located one-line problems.

    Raises:
        SpecError: every problem at once, one line each.
    """
    from ._loader import load_model

    return load_model(SymmetrySpec, source, "symmetry file", SYMMETRY_RULES)
