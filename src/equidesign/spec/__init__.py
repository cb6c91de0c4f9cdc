"""The spec: pydantic models of what to design, loaded from YAML with located errors."""

from ._loader import load_spec, spec_json_schema
from ._models import Constraints, DesignSpec, InputSpec, OutputSpec, TaskSpec

__all__ = [
    "Constraints",
    "DesignSpec",
    "InputSpec",
    "OutputSpec",
    "TaskSpec",
    "load_spec",
    "spec_json_schema",
]
