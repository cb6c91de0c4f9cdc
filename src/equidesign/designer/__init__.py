"""The rule-based designer: spec -> architecture family and library -> explicit plan."""

from ._design import Design, design, plan_for
from .plan import Adjustment, ArchitecturePlan, Decision, LayerPlan
from .rules import REFUSALS, RULES, Refusal, Rule, select_rule

__all__ = [
    "Adjustment",
    "ArchitecturePlan",
    "Decision",
    "Design",
    "LayerPlan",
    "REFUSALS",
    "RULES",
    "Refusal",
    "Rule",
    "design",
    "plan_for",
    "select_rule",
]
