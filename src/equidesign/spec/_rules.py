"""Rules across fields of a spec, as a table.

Each :class:`SpecRule` names the field it reports at, the fields it reads, when it is broken,
and the message. The models check the rules of their own scope (``task``, ``output``, the whole
spec); the loader checks them again on a partly valid spec, so that a spec with a bad field
still gets every other problem reported at once. ``docs/spec-reference.md`` lists them from
:data:`SPEC_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_core import PydanticCustomError

from ._values import join_words, representation_problem

__all__ = [
    "CLASS_TASKS",
    "EQUIVARIANT_REGRESSION_DOMAINS",
    "IMAGE_DOMAINS",
    "SPEC_RULES",
    "TASK_DOMAINS",
    "TASK_OUTPUTS",
    "SpecRule",
    "broken_rules",
    "check_scope",
    "flatten",
]

Values = Mapping[str, Any]

#: tasks that predict classes (``task.classes`` required, ``task.targets`` forbidden)
CLASS_TASKS = ("classification", "segmentation", "node_classification")
IMAGE_DOMAINS = ("image2d", "image3d")
#: the number of entries of a list ``input.size`` per image domain
_SIZE_ENTRIES = {"image2d": (2, "H or [H, W]"), "image3d": (3, "N or [D, H, W]")}

#: task kind -> (domains it runs on, why)
TASK_DOMAINS: dict[str, tuple[tuple[str, ...], str]] = {
    "segmentation": (IMAGE_DOMAINS, "it labels every pixel"),
    "forces": (("point_cloud",), "forces are vectors on atoms"),
    "energy_forces": (("point_cloud",), "forces are vectors on atoms"),
    "node_classification": (("graph",), "it labels the nodes of a graph"),
    "node_regression": (("graph", "point_cloud"), "it predicts values on nodes or points"),
}

#: task kind -> (the output type it needs, why)
TASK_OUTPUTS: dict[str, tuple[str, str]] = {
    "classification": ("invariant", "class scores do not change when the input is transformed"),
    "segmentation": (
        "equivariant",
        "per-pixel labels move with the image; use 'representation: trivial' for class scores",
    ),
    "forces": ("equivariant", "forces rotate with the molecule"),
    "energy_forces": (
        "invariant",
        "the output is the energy, which does not change when the molecule moves; the forces "
        "come from it (or from a second l=1 head with 'conservative: false')",
    ),
}

#: where a regression may have an equivariant output: a vector, one output per set element,
#: a geometric quantity of a point cloud (a dipole). Images and graphs pool to invariants.
EQUIVARIANT_REGRESSION_DOMAINS = ("vector", "set", "point_cloud")


@dataclass(frozen=True)
class SpecRule:
    """A rule across fields: ``field`` is wrong when ``broken(values)`` holds.

    Attributes:
        field: dotted path of the field the problem is reported at.
        reads: dotted paths the rule looks at; it is checked only when all of them are valid.
        broken: predicate on ``{dotted path: value}``.
        message: the message from the same values; it names the bad value and the fix.
        position: ``"value"`` points at the field's value (at its parent mapping when the field
            is absent), ``"key"`` at its key (for a field that must go).
        doc: one line for the spec reference.
    """

    field: str
    reads: tuple[str, ...]
    broken: Callable[[Values], bool]
    message: Callable[[Values], str]
    position: Literal["value", "key"]
    doc: str

    @property
    def scope(self) -> str:
        """The model that checks the rule: the common parent of what it reads (``""``: the spec)."""
        parents = {path.rpartition(".")[0] for path in self.reads}
        return parents.pop() if len(parents) == 1 else ""


def _names(items: Iterable[str]) -> str:
    return join_words(items, "or")


def _task_domain_rule(kind: str, domains: tuple[str, ...], why: str) -> SpecRule:
    return SpecRule(
        field="task.kind",
        reads=("task.kind", "domain"),
        broken=lambda v: v["task.kind"] == kind and v["domain"] not in domains,
        message=lambda v: f"{kind} needs domain {_names(domains)}, not {v['domain']!r}: {why}",
        position="value",
        doc=f"`{kind}` needs domain {_names(f'`{d}`' for d in domains)}",
    )


def _task_output_rule(kind: str, output: str, why: str) -> SpecRule:
    return SpecRule(
        field="output.type",
        reads=("task.kind", "output.type"),
        broken=lambda v: v["task.kind"] == kind and v["output.type"] != output,
        message=lambda v: f"{kind} needs 'type: {output}', not {v['output.type']!r}: {why}",
        position="value",
        doc=f"`{kind}` needs an {output} output",
    )


def _size_shape(v: Values) -> str:
    size, domain = v["input.size"], v["domain"]
    if domain in _SIZE_ENTRIES:
        return f"{domain} takes size {_SIZE_ENTRIES[domain][1]}, not {size!r}"
    return f"{domain} takes one number of elements as size, not the list {size!r}"


def _size_shape_broken(v: Values) -> bool:
    size, domain = v["input.size"], v["domain"]
    if not isinstance(size, list) or domain == "vector":
        return False
    return domain not in _SIZE_ENTRIES or len(size) != _SIZE_ENTRIES[domain][0]


def _equivariant_regression(v: Values) -> str:
    domain = v["domain"]
    instead = {
        "graph": "node_regression for one output per node",
        "image2d": "segmentation for per-pixel maps",
        "image3d": "segmentation for per-voxel maps",
    }.get(domain)
    return (
        f"an equivariant regression output needs domain {_names(EQUIVARIANT_REGRESSION_DOMAINS)}, "
        f"not {domain!r}: a model on {domain} pools to invariant features; use 'type: invariant'"
        + (f" (or task {instead})" if instead else "")
    )


def _representation_rule(side: str) -> SpecRule:
    """The representation on ``side`` (input or output) must be one the group has."""
    field = f"{side}.representation"
    output = side == "output"

    def problem(v: Values) -> str | None:
        if v[field] is None or (output and v["output.type"] != "equivariant"):
            return None
        return representation_problem(v["group"], v["domain"], v[field])

    return SpecRule(
        field=field,
        reads=("group", "domain", field, *(("output.type",) if output else ())),
        broken=lambda v: problem(v) is not None,
        message=lambda v: problem(v) or "",
        position="value",
        doc=f"{'an equivariant output' if output else 'the input'} takes a representation "
        "`group` has: its irreps, quotients by its subgroups, at most 4,096 dimensions (e3nn "
        "irreps on `point_cloud`)",
    )


SPEC_RULES: tuple[SpecRule, ...] = (
    # --- task ---------------------------------------------------------------------------
    SpecRule(
        field="task.classes",
        reads=("task.kind", "task.classes"),
        broken=lambda v: v["task.kind"] in CLASS_TASKS and v["task.classes"] is None,
        message=lambda v: (
            "required field is missing; add e.g. 'classes: 10' "
            f"({v['task.kind']} needs the number of classes)"
        ),
        position="value",
        doc=f"{_names(f'`{k}`' for k in CLASS_TASKS)} need `task.classes`",
    ),
    SpecRule(
        field="task.classes",
        reads=("task.kind", "task.classes"),
        broken=lambda v: v["task.kind"] not in CLASS_TASKS and v["task.classes"] is not None,
        message=lambda v: (
            f"{v['task.kind']} predicts no classes; remove 'classes' "
            "(regression counts its outputs with 'targets')"
        ),
        position="key",
        doc="other tasks must not have `task.classes`",
    ),
    SpecRule(
        field="task.targets",
        reads=("task.kind", "task.targets"),
        broken=lambda v: v["task.kind"] in CLASS_TASKS and v["task.targets"] is not None,
        message=lambda v: f"{v['task.kind']} predicts classes, not targets; remove 'targets'",
        position="key",
        doc="class-predicting tasks must not have `task.targets`",
    ),
    SpecRule(
        field="task.conservative",
        reads=("task.kind", "task.conservative"),
        broken=lambda v: v["task.kind"] != "energy_forces" and v["task.conservative"] is not None,
        message=lambda v: (
            f"only energy_forces chooses how forces are computed, not {v['task.kind']}; "
            "remove 'conservative'"
        ),
        position="key",
        doc="only `energy_forces` may have `task.conservative` (default true)",
    ),
    # --- output -------------------------------------------------------------------------
    SpecRule(
        field="output.representation",
        reads=("output.type", "output.representation"),
        broken=lambda v: v["output.type"] == "equivariant" and v["output.representation"] is None,
        message=lambda v: (
            "required field is missing; add e.g. 'representation: regular' "
            "(an equivariant output needs the representation the group acts by)"
        ),
        position="value",
        doc="an equivariant output needs `output.representation`",
    ),
    SpecRule(
        field="output.representation",
        reads=("output.type", "output.representation"),
        broken=lambda v: v["output.type"] == "invariant" and v["output.representation"] is not None,
        message=lambda v: (
            "an invariant output has no representation (the group does not change "
            "it); remove 'representation' or use 'type: equivariant'"
        ),
        position="key",
        doc="an invariant output must not have `output.representation`",
    ),
    # --- task x domain x output ---------------------------------------------------------
    *(_task_domain_rule(kind, *entry) for kind, entry in TASK_DOMAINS.items()),
    *(_task_output_rule(kind, *entry) for kind, entry in TASK_OUTPUTS.items()),
    SpecRule(
        field="output.type",
        reads=("task.kind", "output.type", "domain"),
        broken=lambda v: (
            v["task.kind"] == "regression"
            and v["output.type"] == "equivariant"
            and v["domain"] not in EQUIVARIANT_REGRESSION_DOMAINS
        ),
        message=_equivariant_regression,
        position="value",
        doc="an equivariant `regression` output needs domain "
        f"{_names(f'`{d}`' for d in EQUIVARIANT_REGRESSION_DOMAINS)}",
    ),
    # --- representations against the group -------------------------------------------
    _representation_rule("input"),
    _representation_rule("output"),
    # --- input --------------------------------------------------------------------------
    SpecRule(
        field="input.size",
        reads=("domain", "input.size"),
        broken=lambda v: v["domain"] in IMAGE_DOMAINS and v["input.size"] is None,
        message=lambda v: (
            "required field is missing; add e.g. 'size: 29' under input "
            f"({v['domain']} needs the size of its images)"
        ),
        position="value",
        doc="image domains need `input.size`",
    ),
    SpecRule(
        field="input.size",
        reads=("domain", "input.size"),
        broken=lambda v: v["domain"] == "vector" and v["input.size"] is not None,
        message=lambda v: (
            "a vector has no size (its dimension is its representation's); remove 'size'"
        ),
        position="key",
        doc="`vector` must not have `input.size`",
    ),
    SpecRule(
        field="input.size",
        reads=("domain", "input.size"),
        broken=_size_shape_broken,
        message=_size_shape,
        position="value",
        doc="a list `input.size` is [H, W] for `image2d`, [D, H, W] for `image3d`; sets, graphs "
        "and point clouds take one number of elements",
    ),
    SpecRule(
        field="input.channels",
        reads=("domain", "input.channels"),
        broken=lambda v: v["domain"] in ("set", "graph") and v["input.channels"] is None,
        message=lambda v: (
            "required field is missing; add e.g. 'channels: 8' under input "
            f"({v['domain']} needs the number of features per element)"
        ),
        position="value",
        doc="`set` and `graph` need `input.channels`",
    ),
    SpecRule(
        field="input.channels",
        reads=("domain", "input.channels"),
        broken=lambda v: v["domain"] not in ("set", "graph") and v["input.channels"] is not None,
        message=lambda v: (
            f"only sets and graphs take channels; {v['domain']} inputs are "
            "described by 'representation'; remove 'channels'"
        ),
        position="key",
        doc="other domains must not have `input.channels`",
    ),
    SpecRule(
        field="input.edge_channels",
        reads=("domain", "input.edge_channels"),
        broken=lambda v: v["domain"] != "graph" and v["input.edge_channels"] is not None,
        message=lambda v: (
            f"only graphs have edge features, not {v['domain']}; remove 'edge_channels'"
        ),
        position="key",
        doc="only `graph` may have `input.edge_channels`",
    ),
    SpecRule(
        field="constraints.message_passing",
        reads=("domain", "constraints.message_passing"),
        broken=lambda v: v["domain"] != "graph" and v["constraints.message_passing"] is not None,
        message=lambda v: (
            f"message_passing chooses a graph convolution; {v['domain']} models have none; "
            "remove it"
        ),
        position="key",
        doc="only `graph` may have `constraints.message_passing`",
    ),
    SpecRule(
        field="constraints.nonlinearity",
        reads=("group", "domain", "constraints.nonlinearity"),
        broken=lambda v: (
            v["constraints.nonlinearity"] is not None
            and (v["domain"] != "image2d" or v["group"] not in ("SO2", "O2"))
        ),
        message=lambda v: (
            "nonlinearity chooses the steerable CNN's nonlinearity (SO2 or O2 on image2d); "
            f"{v['group']} on {v['domain']} has a fixed one; remove it"
        ),
        position="key",
        doc="only SO2 and O2 on `image2d` may have `constraints.nonlinearity`",
    ),
    SpecRule(
        field="input.atom_types",
        reads=("domain", "input.atom_types"),
        broken=lambda v: v["domain"] != "point_cloud" and v["input.atom_types"] is not None,
        message=lambda v: (
            "atom types are for molecules (domain point_cloud), not "
            f"{v['domain']}; remove 'atom_types'"
        ),
        position="key",
        doc="only `point_cloud` may have `input.atom_types`",
    ),
)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"task": {"kind": k}}`` -> ``{"task": {...}, "task.kind": k}`` (every level kept).

    A mapping that contains itself (a YAML alias cycle) is not entered again.

    >>> flatten({"a": {"b": 1}})
    {'a': {'b': 1}, 'a.b': 1}
    """
    out: dict[str, Any] = {}
    todo: list[tuple[Mapping[str, Any], str, frozenset[int]]] = [(data, prefix, frozenset())]
    while todo:
        mapping, at, above = todo.pop()
        above = above | {id(mapping)}
        for key, value in mapping.items():
            path = f"{at}{key}"
            out[path] = value
            if isinstance(value, Mapping) and id(value) not in above:
                todo.append((value, f"{path}.", above))
    return out


def broken_rules(
    values: Values, rules: Iterable[SpecRule] = SPEC_RULES, scope: str | None = None
) -> list[tuple[SpecRule, str]]:
    """The rules broken by ``values`` (with their messages); rules reading absent values are
    skipped. ``scope`` keeps only the rules one model checks."""
    found = []
    for rule in rules:
        if scope is not None and rule.scope != scope:
            continue
        if all(path in values for path in rule.reads) and rule.broken(values):
            found.append((rule, rule.message(values)))
    return found


def check_scope(values: Values, scope: str, rules: Iterable[SpecRule] = SPEC_RULES) -> None:
    """Raise one pydantic error carrying every broken rule of ``scope``.

    Raises:
        PydanticCustomError: of type ``spec_rules``; its context holds
            ``(field relative to the scope, position, message)`` for each broken rule.
    """
    found = broken_rules(values, rules, scope)
    if not found:
        return
    cut = len(scope) + 1 if scope else 0
    problems = tuple((rule.field[cut:], rule.position, message) for rule, message in found)
    raise PydanticCustomError(
        "spec_rules",
        "{summary}",
        {"summary": "; ".join(m for *_, m in problems), "problems": problems},
    )
