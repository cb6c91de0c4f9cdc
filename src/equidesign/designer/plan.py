"""The explicit architecture plan: every layer's kind, representations, sizes and why.

The designer expands the coarse spec into an :class:`ArchitecturePlan` (as NequIP expands
``l_max``/``num_features`` into irreps); static checks repair or refuse it; templates render it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LayerPlan", "Decision", "Adjustment", "AlternativePlan", "ArchitecturePlan"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayerPlan(_Model):
    """One layer of the plan."""

    name: str = Field(description="attribute path in the generated model (named_modules path)")
    kind: str = Field(description="the library class, e.g. R2Conv, InnerBatchNorm, eLinear")
    role: str = Field(description="lift, conv, norm, nonlinearity, downsample, pool, head, ...")
    in_repr: str = Field(description="representation / field type of the input")
    out_repr: str = Field(description="representation / field type of the output")
    in_size: list[int] | None = Field(default=None, description="spatial size of the input")
    out_size: list[int] | None = Field(default=None, description="spatial size of the output")
    kernel_size: int | None = None
    stride: int | None = None
    padding: int | None = None
    sigma: float | None = None
    features: int | None = Field(default=None, description="hidden width of plain heads")
    why: str = Field(default="", description="why this layer is equivariant here")
    params: int | None = None


class Decision(_Model):
    """A design decision and the rule behind it (what ``equidesign explain`` prints)."""

    topic: str
    choice: str
    rule: str
    why: str


class Adjustment(_Model):
    """A repair made by a static check, with the reason."""

    check: str
    what: str
    why: str


class AlternativePlan(_Model):
    family: str
    library: str
    tradeoff: str


class ArchitecturePlan(_Model):
    """The layer-by-layer plan of a generated model."""

    name: str
    class_name: str
    description: str = ""
    group: str
    domain: str
    task: str
    symmetry_type: Literal["Invariant", "Equivariant"]
    family: str
    library: str
    template: str
    rule: str
    input_repr: str
    input_size: list[int] | None = None
    input_channels: int | None = Field(default=None, description="features per element/node")
    edge_channels: int | None = Field(default=None, description="features per edge (graphs)")
    output_repr: str
    output_dim: int
    width: int
    depth: int
    kernel_size: int | None = None
    dtype: str = "float32"
    seed: int = 0
    max_params: int | None = None
    layers: list[LayerPlan] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    adjustments: list[Adjustment] = Field(default_factory=list)
    alternatives: list[AlternativePlan] = Field(default_factory=list)
    parameters: int | None = Field(default=None, description="trainable parameters")
    dependencies: dict[str, str] = Field(default_factory=dict)
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="family-specific settings (radius, l_max, ...)"
    )
    spec_hash: str = ""

    @property
    def rationale(self) -> list[Decision]:
        """The decisions, under the name DESIGN.md uses."""
        return self.decisions

    def layer(self, name: str) -> LayerPlan:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)
