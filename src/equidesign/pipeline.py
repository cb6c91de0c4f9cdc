"""``equidesign.run``: what ``equidesign design`` does -- design, build, audit, then write."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["run", "prepare", "OUTPUT_FILES"]

OUTPUT_FILES = ("model.py", "architecture.md", "audit.md", "audit.json")


def prepare(spec: Any, *, audit_inputs: int = 4) -> tuple[Any, Any, dict[str, str]]:
    """Design, build and audit, and render every output file -- nothing is written.

    Returns ``(design, report, files)`` where ``files`` maps names to contents.
    """
    from .auditor import audit
    from .designer import design as make_design

    design = make_design(spec)
    model = design.build()
    # the symmetry makes the inputs: smooth and disk-supported where elements are off the grid
    report = audit(
        model,
        design.symmetry,
        seed=design.plan.seed,
        n_inputs=audit_inputs,
        name=design.plan.class_name,
    )
    files = {
        "model.py": design.source,
        "architecture.md": design.architecture_spec(),
        "audit.md": report.to_markdown(),
        "audit.json": report.to_json() + "\n",
    }
    return design, report, files


def run(spec: Any, out_dir: str | Path, *, force: bool = False) -> tuple[Any, Any]:
    """Design a model for ``spec``, audit it, and write ``model.py``, ``architecture.md``,
    ``audit.md`` and ``audit.json`` into ``out_dir``.

    Nothing is written unless every step succeeded; a file that differs from what equidesign
    last wrote there is not overwritten unless ``force`` (:class:`~equidesign.errors.WriteConflictError`).

    Returns:
        ``(design, report)``.
    """
    from .codegen import plan_write

    design, report, files = prepare(spec)
    plan_write(Path(out_dir), files, force=force).execute()
    return design, report
