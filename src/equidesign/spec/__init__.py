"""The spec: pydantic models of what to design, loaded from YAML with located errors.

Importing this package never imports torch, escnn or e3nn: validating a spec is instant.
"""

from ._loader import load_spec
from ._models import Constraints, DesignSpec, InputSpec, OutputSpec, TaskSpec
from ._rules import SPEC_RULES, SpecRule
from ._schema import spec_json_schema
from ._symmetry_spec import SymmetrySpec, load_symmetry_spec

__all__ = [
    "Constraints",
    "DesignSpec",
    "InputSpec",
    "OutputSpec",
    "SPEC_RULES",
    "SpecRule",
    "SymmetrySpec",
    "TaskSpec",
    "load_spec",
    "load_symmetry_spec",
    "spec_json_schema",
]
