"""equidesign: design symmetry-respecting networks, generate their code, audit their equivariance.

The public API is what ``__all__`` lists. Names are imported lazily, so ``import equidesign``
(and ``equidesign --help``) does not import torch, escnn or e3nn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load_spec": "equidesign.spec",
    "DesignSpec": "equidesign.spec",
    "design": "equidesign.designer",
    "Design": "equidesign.designer",
    "ArchitecturePlan": "equidesign.designer",
    "run": "equidesign.pipeline",
    "audit": "equidesign.auditor",
    "AuditReport": "equidesign.auditor",
    "compare": "equidesign.auditor",
    "lie_derivative": "equidesign.auditor",
    "Symmetry": "equidesign.symmetry",
    "EquidesignError": "equidesign.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .auditor import AuditReport, audit, compare, lie_derivative  # noqa: F401
    from .designer import ArchitecturePlan, Design, design  # noqa: F401
    from .errors import EquidesignError  # noqa: F401
    from .pipeline import run  # noqa: F401
    from .spec import DesignSpec, load_spec  # noqa: F401
    from .symmetry import Symmetry  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'equidesign' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
