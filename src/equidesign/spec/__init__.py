"""The spec: pydantic models of what to design, loaded from YAML with located errors."""

from ._loader import load_spec, spec_json_schema
from ._models import Constraints, DesignSpec, InputSpec, OutputSpec, TaskSpec
from ._symmetry_spec import SymmetrySpec, load_symmetry_spec

__all__ = [
    "Constraints",
    "DesignSpec",
    "InputSpec",
    "OutputSpec",
    "SymmetrySpec",
    "TaskSpec",
    "load_symmetry_spec",
    "load_spec",
    "spec_json_schema",
]
