"""``equidesign.design``: spec -> rule -> plan -> checks -> generated source (-> parameter count)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import cached_property
from types import ModuleType
from typing import Any

from ..errors import DesignError, EquidesignError, UnsupportedFamilyError
from ..spec._origin import locate_error
from ._deepsets import expand_deepsets
from ._e3nn import expand_e3nn
from ._emlp import expand_emlp
from ._gcnn import expand_gcnn
from ._gnn import expand_gnn
from ._steerable import expand_steerable
from ._voxels import expand_voxels
from .checks import run_checks
from .plan import Adjustment, ArchitecturePlan
from .rules import Rule, select_rule

log = logging.getLogger(__name__)

__all__ = ["Design", "design", "plan_for", "EXPANSIONS"]

#: template name -> the function that expands a spec into a plan for it
EXPANSIONS: dict[str, Callable[[Any, Rule], ArchitecturePlan]] = {
    "gcnn_escnn": expand_gcnn,
    "emlp_symm_learning": expand_emlp,
    "deepsets_torch": expand_deepsets,
    "gnn_pyg": expand_gnn,
    "e3nn_points": expand_e3nn,
    "steerable_escnn": expand_steerable,
    "voxels_escnn": expand_voxels,
}


def _load(spec: Any):
    from ..spec import DesignSpec, load_spec

    return spec if isinstance(spec, DesignSpec) else load_spec(spec)


def plan_for(spec: Any) -> ArchitecturePlan:
    """The checked plan for a spec (no code is rendered); what ``equidesign explain`` prints.

    Raises:
        SpecError: the spec does not validate.
        DesignError: the designer refuses it, located at the field it blames.
    """
    spec = _load(spec)
    try:
        return _plan(spec)
    except EquidesignError as exc:
        raise locate_error(spec, exc) from None


def _plan(spec: Any) -> ArchitecturePlan:
    rule = select_rule(spec.group_info, spec.domain, spec.task.kind)
    expand = EXPANSIONS.get(rule.template or "")
    if expand is None:
        raise UnsupportedFamilyError(
            f"{spec.group_info.name!r} on {spec.domain}: the rule table picks {rule.family} "
            f"({rule.library}); its template is not available in this version, so no model is "
            "generated",
            field="group",
        )
    plan = expand(spec, rule)
    return run_checks(plan, spec.group_info)


class Design:
    """A designed model: its plan, its generated source, and how to build and audit it.

    Attributes:
        spec: the validated :class:`~equidesign.spec.DesignSpec`.
        plan: the :class:`ArchitecturePlan`.
        source: the generated Python module (formatted, deterministic).
    """

    def __init__(self, spec: Any, plan: ArchitecturePlan, source: str):
        self.spec = spec
        self.plan = plan
        self.source = source

    @cached_property
    def module(self) -> ModuleType:
        """The generated module, executed as a fresh module object."""
        from ..codegen import import_check

        return import_check(self.source, f"equidesign_generated_{self.plan.name}")

    def build(self, seed: int | None = None):
        """A new model from the generated source, parameters initialised from ``seed``."""
        return self.module.build_model(self.plan.seed if seed is None else seed)

    def example_input(self, batch: int = 2, seed: int = 0):
        """An input the model accepts."""
        return self.module.example_input(batch, seed)

    @cached_property
    def symmetry(self):
        """How the group acts on the model's inputs and outputs."""
        from ..symmetry import Symmetry

        p = self.plan
        out = "invariant" if p.symmetry_type == "Invariant" else p.output_repr
        if p.domain in ("image2d", "image3d"):
            return Symmetry.images(p.group, p.input_repr, out, size=tuple(p.input_size))
        if p.domain == "vector":
            return Symmetry.vectors(p.group, p.input_repr, out)
        if p.domain == "point_cloud":
            module, o = self.module, p.options
            conservative = bool(o.get("conservative"))
            return Symmetry.point_clouds(
                p.input_repr,
                # the energy of a conservative model is invariant; otherwise the output irreps
                # (per node for direct forces: energy contributions 0e and forces 1o)
                "invariant" if conservative else p.output_repr,
                group=p.group,
                node_level=bool(o.get("node_level")),
                forces=conservative,
                example=lambda batch, gen: module.example_input(batch, seed=self.plan.seed),
            )
        if p.domain == "graph":
            module = self.module
            return Symmetry.graphs(
                node_level=p.symmetry_type == "Equivariant",
                example=lambda batch, gen: module.example_input(batch, seed=self.plan.seed),
            )
        if p.domain == "set":
            return Symmetry.sets(
                "invariant" if p.symmetry_type == "Invariant" else "equivariant",
                size=p.input_size[0],
                channels=self.spec.input.channels,
            )
        raise DesignError(f"domain {p.domain}: no symmetry description in this version")

    def architecture_spec(self) -> str:
        """The ARCHITECTURE SPECIFICATION (markdown)."""
        from ..templates import render_architecture

        return render_architecture(self.plan, self.source)

    def __repr__(self) -> str:
        return f"Design({self.plan.class_name}: {self.plan.family}, {self.plan.parameters} params)"


def _render(spec, plan) -> str:
    from ..codegen import compile_check
    from ..templates import render_model

    source = render_model(plan, spec.to_yaml())
    compile_check(source, "model.py")
    return source


def _count(design: Design) -> None:
    model = design.build()
    modules = dict(model.named_modules(remove_duplicate=False))
    for layer in design.plan.layers:
        module = modules.get(layer.name)
        if module is not None:
            layer.params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    design.plan.parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)


def design(spec: Any) -> Design:
    """Design a model for ``spec`` (a path, YAML text, a dict or a DesignSpec).

    Raises:
        SpecError: the spec does not validate (one line per problem).
        DesignError: the combination is refused, or ``max_params`` cannot be met.
        UnsupportedFamilyError: the family's template is not available yet.
    """
    spec = _load(spec)
    try:
        return _design(spec)
    except EquidesignError as exc:
        raise locate_error(spec, exc) from None


def _design(spec: Any) -> Design:
    plan = plan_for(spec)
    result = Design(spec, plan, _render(spec, plan))
    _count(result)
    budget = spec.constraints.max_params
    width = plan.width
    while budget is not None and result.plan.parameters > budget:
        if width == 1:
            raise DesignError(
                f"{budget:,} is below the smallest model of this family "
                f"({result.plan.parameters:,} parameters at width 1); raise max_params or lower "
                "depth",
                field="constraints.max_params",
            )
        ratio = math.sqrt(budget / result.plan.parameters)
        new_width = max(1, min(width - 1, int(width * ratio)))
        adjusted = spec.model_copy(
            update={"constraints": spec.constraints.model_copy(update={"width": new_width})}
        )
        plan = plan_for(adjusted)
        plan.width = new_width
        plan.adjustments.insert(
            0,
            Adjustment(
                check="parameters",
                what=f"width {width} -> {new_width}",
                why=f"{result.plan.parameters:,} parameters exceed max_params {budget:,}",
            ),
        )
        plan.spec_hash = spec.spec_hash()
        result = Design(spec, plan, _render(spec, plan))
        _count(result)
        width = new_width
    # the docstring carries the parameter count: render once more with it
    result.source = _render(spec, result.plan)
    result.__dict__.pop("module", None)
    return result
