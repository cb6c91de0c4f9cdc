"""Group catalogue: names users write -> escnn groups, e3nn O(3), permutation groups."""

from ._catalogue import GROUP_NAMES_HELP, GroupInfo, parse_group
from ._reps import REP_NAMES_HELP, RepTerm, build_rep, build_rep_list, parse_rep_expr

__all__ = [
    "GROUP_NAMES_HELP",
    "GroupInfo",
    "parse_group",
    "REP_NAMES_HELP",
    "RepTerm",
    "build_rep",
    "build_rep_list",
    "parse_rep_expr",
]
