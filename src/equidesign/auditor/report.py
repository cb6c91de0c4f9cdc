"""The audit report: structured results (pydantic), rendered by :mod:`._render`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .levels import Level

__all__ = [
    "ElementError",
    "InterpolatedResult",
    "Float64Rerun",
    "EndToEndResult",
    "LayerResult",
    "UntestedLayer",
    "GradientMode",
    "GradientResult",
    "SelfCheck",
    "ForcesResult",
    "LieGeneratorResult",
    "LieDerivativeResult",
    "Finding",
    "AuditSettings",
    "AuditReport",
    "Verdict",
    "Severity",
]

Verdict = Literal["PASS", "FAIL", "NEEDS_ATTENTION"]
Severity = Literal["High", "Medium", "Low"]


class _Model(BaseModel):
    # NaN and inf (a model that outputs NaN) are written as the strings "NaN" and "Infinity",
    # so that the JSON stays standard and reads back as the same floats
    model_config = ConfigDict(extra="forbid", use_enum_values=False, ser_json_inf_nan="strings")


class ElementError(_Model):
    """Errors for one group element, over all test inputs."""

    label: str
    exact: bool = True
    max_abs: float
    max_rel: float
    mean_rel: float
    level: Level
    interpolation_floor: float | None = Field(
        default=None,
        description="relative error of rotating the input and rotating it back (interpolated elements)",
    )


class InterpolatedResult(_Model):
    """Elements applied by interpolation (off the pixel grid), judged against the input's own
    interpolation error."""

    n_elements: int
    max_rel: float
    floor: float = Field(description="largest interpolation error of the input (rotate and back)")
    ratio: float = Field(description="max over elements of model error / interpolation floor")
    level: Level
    passed: bool


class Float64Rerun(_Model):
    max_rel: float
    level: Level
    cause: Literal["precision", "structure", "unknown"]
    note: str = ""


class EndToEndResult(_Model):
    """f(g·x) against g·f(x) for every tested element and input."""

    max_abs: float
    max_rel: float
    mean_abs: float
    mean_rel: float
    level: Level
    passed: bool
    n_elements: int
    n_inputs: int
    failing_element: str | None = None
    identity_error: float | None = None
    per_element: list[ElementError] = Field(default_factory=list)
    interpolated: InterpolatedResult | None = None
    float64: Float64Rerun | None = None


class LayerResult(_Model):
    """One layer tested alone on the input it received: layer(ρ_in(g)·h) vs ρ_out(g)·layer(h)."""

    name: str
    kind: str
    max_rel: float
    level: Level
    passed: bool
    in_action: str = ""
    out_action: str = ""
    failing_element: str | None = None
    interpolated: bool = False
    probe_max_rel: float | None = Field(
        default=None, description="error after perturbing the layer's parameters (constraint probe)"
    )
    train_max_rel: float | None = Field(
        default=None, description="error in train mode (normalisation layers)"
    )
    gradient_max_rel: float | None = None
    float64_max_rel: float | None = Field(
        default=None, description="the layer alone in float64, when it fails in float32"
    )
    note: str = Field(default="", description="what could not be measured on this layer, and why")


class UntestedLayer(_Model):
    name: str
    kind: str
    reason: str


class GradientMode(_Model):
    # dropout: reported apart, not counted in the verdict (see the gradient test's docs)
    mode: Literal["eval", "train", "dropout"]
    max_rel: float
    level: Level
    passed: bool
    failing_element: str | None = None
    note: str = ""
    checked: bool = Field(default=True, description="False when this mode could not run")
    sensitivity: float | None = Field(
        default=None,
        description="relative change of these gradients when the input moves by a random "
        "relative 1e-6 (measured when train mode alone fails): amplified round-off when it is "
        "within 10x of the error",
    )


class GradientResult(_Model):
    """Input gradients of an invariant loss at x and g·x must transform by the input action."""

    max_rel: float
    level: Level
    passed: bool
    modes: list[GradientMode] = Field(default_factory=list)
    loss: str = "0.5 * ||f(x)||^2 (invariant under orthogonal output actions)"
    float64_max_rel: float | None = Field(
        default=None, description="the same test in float64, run when float32 does not pass"
    )
    note: str = ""


class LieGeneratorResult(_Model):
    """The Lie derivative of the model along one generator."""

    generator: str
    unit: str = ""
    lee: float = Field(
        description="mean over inputs of the per-input LEE (see normalization: each input's "
        "value depends on that input alone)"
    )
    spread: float = Field(description="standard deviation over inputs of the per-input LEE")
    per_input: list[float] = Field(default_factory=list, description="the LEE of every input")
    per_layer: dict[str, float] = Field(
        default_factory=dict,
        description="each layer's signed share <J_{>i} L_X f_i, L_X f> / ||L_X f||^2",
    )
    remainder: float | None = Field(
        default=None,
        description="||L_X f - sum_i J_{>i} L_X f_i|| / ||L_X f||: cross terms and operations "
        "no layer covers (functional code in forward, residual additions)",
    )
    attributed: float | None = Field(
        default=None,
        description="sum of the shares (1 minus the remainder's projection on L_X f)",
    )


class LieDerivativeResult(_Model):
    """Local equivariance error (LEE) per generator, with layer-wise attribution."""

    normalization: str
    normalization_kind: str = Field(
        default="", description="relative | softmax | absolute (empty: written before these)"
    )
    padding: str
    n_inputs: int
    output_action: str
    generators: dict[str, LieGeneratorResult] = Field(default_factory=dict)
    skipped: dict[str, str] = Field(
        default_factory=dict,
        description="generators not measured, with the reason (no action on the fields)",
    )
    layer_kinds: dict[str, str] = Field(
        default_factory=dict, description="class (and stride) of every attributed layer"
    )
    notes: list[str] = Field(default_factory=list)

    def __getitem__(self, name: str) -> LieGeneratorResult:
        return self.generators[name]


class ForcesResult(_Model):
    """Conservative force fields: F = -dE/dpos at g·x must be R F(x) (node-wise, permuted)."""

    max_rel: float
    level: Level
    passed: bool
    failing_element: str | None = None
    float64_max_rel: float | None = Field(
        default=None, description="the force test again in float64, when it fails in float32"
    )
    note: str = ""


class SelfCheck(_Model):
    name: str
    passed: bool
    detail: str
    checked: bool = Field(
        default=True, description="False when the check could not run (it then says why)"
    )

    @property
    def status(self) -> str:
        return "not checked" if not self.checked else ("ok" if self.passed else "FAILED")


class Finding(_Model):
    kind: str
    title: str
    location: str
    severity: Severity
    fix: str
    evidence: str = ""


class AuditSettings(_Model):
    seed: int
    dtype: str
    device: str
    n_inputs: int
    elements: list[str]
    exhaustive: bool
    element_note: str = ""
    domain: str = Field(default="", description="the symmetry's data domain")
    input_note: str = Field(
        default="",
        description="graph inputs: which attributes the group moves, and how",
    )
    subgroup_only: bool = Field(
        default=False,
        description="a continuous group was tested on a finite subgroup of it only",
    )
    layerwise: bool = True
    gradients: bool = True
    torch_version: str = ""
    equidesign_version: str = ""


class AuditReport(_Model):
    """What :func:`equidesign.audit` returns. ``to_text``/``to_markdown``/``to_json`` render it."""

    model: str
    symmetry: str
    group: str
    symmetry_type: Literal["Invariant", "Equivariant"]
    verdict: Verdict
    summary: str = ""
    end_to_end: EndToEndResult
    layers: list[LayerResult] = Field(default_factory=list)
    untested: list[UntestedLayer] = Field(default_factory=list)
    first_failing_layer: str | None = None
    gradient: GradientResult | None = None
    forces: ForcesResult | None = None
    lie_derivative: LieDerivativeResult | None = None
    findings: list[Finding] = Field(default_factory=list)
    self_checks: list[SelfCheck] = Field(default_factory=list)
    settings: AuditSettings
    timings: dict[str, float] = Field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def layer(self, name: str) -> LayerResult:
        """The result of the layer at ``name`` (a ``named_modules()`` path)."""
        for result in self.layers:
            if result.name == name:
                return result
        raise KeyError(f"no tested layer named {name!r}")

    def findings_of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def to_text(self) -> str:
        from ._render import render_text

        return render_text(self)

    def to_markdown(self) -> str:
        from ._render import render_markdown

        return render_markdown(self)

    def to_html(self, *, plots: bool = True) -> str:
        """One self-contained HTML page (plots embedded)."""
        from ._html import render_html

        return render_html(self, plots=plots)

    def to_json(self, indent: int = 2) -> str:
        return self.model_dump_json(indent=indent)
