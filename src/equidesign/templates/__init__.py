"""Jinja2 templates, one per family, each filled by a small view-model class (``_views``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..errors import CodegenError

__all__ = ["render_model", "render_architecture", "environment"]

_HERE = Path(__file__).parent


@cache
def environment():
    """A sandboxed Jinja environment with StrictUndefined: a missing value is an error."""
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        loader=FileSystemLoader(str(_HERE)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_model(plan, spec_yaml: str) -> str:
    """The generated module for ``plan``, formatted with ruff."""
    from ..codegen import format_source
    from ._views import VIEWS

    view_cls = VIEWS.get(plan.template)
    if view_cls is None:
        raise CodegenError(f"no template for family {plan.family!r} ({plan.template!r})")
    view = view_cls(plan, spec_yaml)
    text = environment().get_template(view.template).render(**view.context())
    return format_source(text, filename="model.py")


def render_architecture(plan) -> str:
    """The ARCHITECTURE SPECIFICATION (design guide template) for ``plan``, as markdown."""
    from ._architecture import architecture_context

    return environment().get_template("architecture.md.j2").render(**architecture_context(plan))
