"""How a group acts on a model's inputs and outputs, per domain."""

from ._symmetry import Symmetry
from .actions import (
    Action,
    CustomAction,
    FieldAction,
    RepAction,
    TestElement,
    TrivialAction,
)

__all__ = [
    "Symmetry",
    "Action",
    "CustomAction",
    "FieldAction",
    "RepAction",
    "TestElement",
    "TrivialAction",
]
