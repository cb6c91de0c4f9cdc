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
    context = view.context()
    if "forward_doc" in context:
        context["forward_doc"] = _method_docstring(context["forward_doc"])
    text = environment().get_template(view.template).render(**context)
    return format_source(text, filename="model.py")


def _method_docstring(text: str, indent: int = 8, width: int = 100) -> str:
    """A one-line method docstring, or wrapped lines closed on their own line when too long."""
    import textwrap

    if indent + len(text) + 6 <= width:
        return text
    pad = " " * indent
    lines = textwrap.wrap(text, width - indent - 6)
    return "\n".join([lines[0], *(pad + line for line in lines[1:])]) + "\n" + pad


def render_architecture(plan, source: str | None = None) -> str:
    """The ARCHITECTURE SPECIFICATION (design guide template) for ``plan``, as markdown; its
    code skeleton is the model class of ``source`` (the generated module) when given."""
    from ._architecture import architecture_context

    context = architecture_context(plan, source)
    return environment().get_template("architecture.md.j2").render(**context)
