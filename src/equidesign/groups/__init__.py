"""Group catalogue: names users write -> escnn groups, e3nn O(3), permutation groups."""

from ._build import build_rep, build_rep_list
from ._catalogue import (
    GROUP_NAMES_HELP,
    MAX_GROUP_ORDER,
    GroupInfo,
    group_name_pattern,
    parse_group,
)
from ._irreps import MAX_DEGREE, MAX_FREQUENCY, finite_irreps, regular_irrep_count
from ._repcheck import acting_group, check_rep, non_permutation_atoms, rep_dim
from ._reps import MAX_REP_DIM, REP_NAMES_HELP, RepTerm, parse_rep_expr

__all__ = [
    "GROUP_NAMES_HELP",
    "MAX_DEGREE",
    "MAX_FREQUENCY",
    "MAX_GROUP_ORDER",
    "MAX_REP_DIM",
    "REP_NAMES_HELP",
    "GroupInfo",
    "RepTerm",
    "acting_group",
    "build_rep",
    "build_rep_list",
    "check_rep",
    "finite_irreps",
    "group_name_pattern",
    "non_permutation_atoms",
    "parse_group",
    "parse_rep_expr",
    "rep_dim",
    "regular_irrep_count",
]
