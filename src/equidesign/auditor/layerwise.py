r"""Layer-wise localisation: every layer tested alone on the input it actually received.

For a layer :math:`L` that received :math:`h` and whose input and output actions are known, the
test compares :math:`L(\rho_{in}(g)\,h)` with :math:`\rho_{out}(g)\,L(h)` for every element, all
copies in one batched call. Because each layer sees its own recorded input, the first broken
layer is named even when later layers are broken too.

Three more probes run where they apply:

* constraint probe: a layer with parameters that passes is tested again with its parameters
  perturbed. A layer whose weights are constrained (escnn, symm-learning) stays equivariant; a
  plain layer that passes only at its current values (an unprojected ``Linear``, a ``BatchNorm``
  at its initial statistics) does not;
* train mode, for normalisation layers: batch statistics must be equivariant too;
* gradients, when the model's gradient test fails: the layer's vector-Jacobian product must
  transform by the actions (this is what localises a custom ``autograd.Function``).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from ..symmetry.actions import Action, TestElement
from ._graph import (
    Call,
    Recorder,
    _integer_vector,
    assign_actions,
    declared_actions,
    invariant_call,
)
from ._state import cast_outputs, convert_floating, remove_hooks, set_mode, snapshot_tensors
from ._tensors import relative_errors, rewrap, run_chunked, unwrap
from .levels import Level, classify, classify_interpolated, passes, worst
from .report import LayerResult, UntestedLayer

log = logging.getLogger(__name__)

__all__ = ["LayerTest", "run_layerwise", "inverse", "is_normalization", "is_container"]

_SILENT_MODULE_PREFIXES = (
    "escnn.nn.modules.basismanager",
    "escnn.kernels",
    "torch.nn.utils.parametrize",
    "symm_learning.nn.parametrizations",
    "symm_learning.representation_theory",
)
_LIBRARY_PREFIXES = ("torch.", "escnn.", "e3nn.", "symm_learning.", "torch_geometric.")


def is_library_module(module: torch.nn.Module) -> bool:
    return type(module).__module__.startswith(_LIBRARY_PREFIXES)


def is_container(module: torch.nn.Module) -> bool:
    enn = sys.modules.get("escnn.nn")
    pure = (torch.nn.Sequential,)
    if enn is not None:
        pure = pure + (enn.SequentialModule,)
    return isinstance(module, pure)


#: what the class names of normalisation layers in escnn (InnerBatchNorm, IIDBatchNorm2d,
#: NormBatchNorm, GNormBatchNorm, FieldNorm), symm-learning (eBatchNorm1d, eLayerNorm) and e3nn
#: (BatchNorm) contain; not e3nn's ``normalize2mom`` activations or escnn's NormNonLinearity
_NORMALIZATION_NAMES = (
    "batchnorm",
    "layernorm",
    "groupnorm",
    "instancenorm",
    "fieldnorm",
    "rmsnorm",
)


def is_normalization(module: torch.nn.Module) -> bool:
    """BatchNorm/LayerNorm/GroupNorm/InstanceNorm of torch, escnn, symm-learning and e3nn."""
    if isinstance(
        module,
        (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm, torch.nn.GroupNorm),
    ):
        return True
    name = type(module).__name__.lower()
    return is_library_module(module) and any(n in name for n in _NORMALIZATION_NAMES)


def inverse(element: TestElement) -> TestElement:
    """The inverse of an escnn element (for rotate-and-rotate-back interpolation floors)."""
    return TestElement(label=f"({element.label})^-1", value=~element.value, exact=element.exact)


@dataclass
class LayerTest:
    """A testable layer call and what the tests found."""

    call: Call
    in_action: Action
    out_action: Action
    result: LayerResult | None = None
    error_map: torch.Tensor | None = None  # (B, ...) per-position error for the worst element
    worst_element: TestElement | None = None
    extra: dict = field(default_factory=dict)
    #: for layers with several inputs: per positional argument, its action, "index" (an
    #: edge_index to relabel), or None (a value passed unchanged)
    arg_plan: list | None = None

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def module(self) -> torch.nn.Module:
        return self.call.module


# ------------------------------------------------------------------------- core measure
def _forward_copies(module, template, copies: torch.Tensor, chunk: int | None) -> torch.Tensor:
    G, B = copies.shape[:2]
    batch = copies.reshape(G * B, *copies.shape[2:])

    def fn(part):
        return unwrap(module(rewrap(template, part)))

    out = run_chunked(fn, batch, chunk)
    return out.reshape(G, B, *out.shape[1:])


class MovedCache:
    """Transformed copies of recorded tensors, by (token, action): in a chain of layers the output
    of one layer is the input of the next, so each tensor is transformed once, not twice."""

    def __init__(self, size: int = 8):
        self._store: OrderedDict = OrderedDict()
        self.size = size

    def get(self, token, action: Action, elements, tensor: torch.Tensor) -> torch.Tensor:
        key = (token, id(action), len(elements))
        if token is None or key not in self._store:
            moved = action.apply(elements, tensor)
            if token is not None:
                self._store[key] = moved
                while len(self._store) > self.size:
                    self._store.popitem(last=False)
            return moved
        self._store.move_to_end(key)
        return self._store[key]


def measure(
    module: torch.nn.Module,
    h: Any,
    y: torch.Tensor,
    in_action: Action,
    out_action: Action,
    elements: Sequence[TestElement],
    chunk: int | None = None,
    *,
    cache: MovedCache | None = None,
    tokens: tuple = (None, None),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Errors of ``module`` at input ``h`` (recorded output ``y``) per (element, sample).

    Returns ``(abs, rel, diff)`` where ``diff`` is the full difference tensor ``(G, B, ...)``.
    """
    cache = cache or MovedCache(0)
    ht = unwrap(h)
    copies = cache.get(tokens[0], in_action, elements, ht).contiguous()
    with torch.no_grad():
        out = _forward_copies(module, h, copies, chunk)
    expected = cache.get(tokens[1], out_action, elements, y)
    if out.shape != expected.shape:
        raise ValueError(f"output shape {tuple(out.shape[2:])} != recorded {tuple(y.shape[1:])}")
    diff = out - expected
    abs_err, rel_err = relative_errors(out, expected, diff)
    return abs_err, rel_err, diff


def interpolation_floor(
    action: Action, elements: Sequence[TestElement], x: torch.Tensor
) -> torch.Tensor:
    """Per element: max over samples of ||g^-1·(g·x) - x|| / ||x|| (zero for exact elements)."""
    floors = torch.zeros(len(elements), dtype=torch.float64)
    idx = [i for i, e in enumerate(elements) if not e.exact]
    if not idx:
        return floors
    sub = [elements[i] for i in idx]
    moved = action.apply(sub, x)
    back = torch.stack([action.apply([inverse(e)], moved[k])[0] for k, e in enumerate(sub)])
    _, rel = relative_errors(back, x.unsqueeze(0).expand_as(back))
    floors[idx] = rel.max(dim=1).values.cpu()
    return floors


def judge(
    rel: torch.Tensor, elements: Sequence[TestElement], floors: torch.Tensor
) -> tuple[Level, int, list[Level]]:
    """Level per element (max over samples) and overall; returns (level, worst index, levels)."""
    per = rel.max(dim=1).values.tolist()
    fl = floors.tolist()
    levels = [
        classify(per[i]) if e.exact else classify_interpolated(per[i], fl[i])
        for i, e in enumerate(elements)
    ]
    order = [Level.PERFECT, Level.EXCELLENT, Level.APPROXIMATE, Level.BROKEN]
    worst_i = max(range(len(elements)), key=lambda i: (order.index(levels[i]), per[i]))
    return worst(levels), worst_i, levels


# ------------------------------------------------------------------------- selection
def _untested(call: Call, reason: str) -> UntestedLayer:
    return UntestedLayer(name=call.name, kind=type(call.module).__name__, reason=reason)


def _silent(call: Call) -> bool:
    module_path = type(call.module).__module__
    return module_path.startswith(_SILENT_MODULE_PREFIXES) or ".parametrizations." in (
        "." + call.name + "."
    )


def select(
    recorder: Recorder, actions: dict[int, Action], notes: dict[str, str], relabel=None
) -> tuple[list[LayerTest], list[UntestedLayer]]:
    """Which calls can be tested alone, and why the others cannot."""
    tests, untested = [], []
    # internals of library layers that declare their own types (escnn's InnerBatchNorm wraps a
    # BatchNorm3d on a reshaped tensor): the declaring layer is tested, its parts are not listed
    declaring = {
        c.name + "."
        for c in recorder.calls
        if c.name
        and is_library_module(c.module)
        and declared_actions(c.module, None)[0] is not None
    }
    invariant = {
        c.name
        for c in recorder.calls
        if c.name
        and invariant_call(c, actions)
        and c.out_token in actions
        and actions[c.out_token].is_trivial
    }
    for call in recorder.calls:
        if call.name == "" or _silent(call):
            continue
        inside = any(call.name.startswith(prefix) for prefix in declaring)
        if call.name in invariant or any(call.name.startswith(p + ".") for p in invariant):
            continue  # invariant in, invariant out (a radial MLP and its parts): cannot fail
        on_data_path = any(
            unwrap(a) is not None and recorder.batched(unwrap(a))
            for a in call.raw_args[: len(call.in_tokens)]
            if unwrap(a) is not None and unwrap(a).is_floating_point()
        )
        if not on_data_path:
            if inside or (is_library_module(call.module) and not call.in_tokens):
                continue
            untested.append(_untested(call, "its inputs do not carry the batch on the first axis"))
            continue
        if len(call.in_tokens) > 1:
            plan, reason = _multi_input_plan(call, actions, notes, relabel)
            if reason:
                if not inside:
                    untested.append(_untested(call, reason))
                continue
            first = next(a for a in plan if isinstance(a, Action))
            tests.append(LayerTest(call, first, actions[call.out_token], arg_plan=plan))
            continue
        reason = _why_untestable(call, actions, notes)
        if reason:
            if not inside:
                untested.append(_untested(call, reason))
            continue
        tests.append(LayerTest(call, actions[call.in_tokens[0]], actions[call.out_token]))
    # a tested library layer that declares its types stands for its parts (e3nn's compiled
    # tensor-product graph, escnn's inner modules): they are its implementation
    tested = {
        t.name + "." for t in tests if t.name + "." in declaring and not is_container(t.module)
    }
    tests = [t for t in tests if not any(t.name.startswith(p) for p in tested)]
    return tests, untested


def _multi_input_plan(call, actions, notes, relabel) -> tuple[list, str]:
    """How to move each argument of a layer with several inputs, or why it cannot be tested."""
    if not call.sliceable:
        return [], "one of its inputs does not carry the batch on its first axis"
    if call.output is None:
        return [], "its output is not a tensor"
    if call.name in notes:
        return [], notes[call.name]
    if call.out_token not in actions:
        return [], "the group action on its output is unknown"
    plan = []
    for arg, token in zip(call.raw_args, call.in_tokens, strict=False):
        tensor = unwrap(arg)
        if tensor is None:
            plan.append(None)  # a plain value: passed as it is
        elif token in actions:
            plan.append(actions[token])
        elif tensor.dim() == 2 and tensor.shape[0] == 2 and not tensor.is_floating_point():
            plan.append("index")  # graph structure: relabelled with the nodes (if they move)
        elif _integer_vector(tensor):
            plan.append("index")  # node indices per edge (a scatter's targets): relabelled
        else:
            return [], "the group action on one of its inputs is unknown"
    if not any(isinstance(a, Action) for a in plan):
        return [], "none of its inputs carries a known group action"
    if not actions[call.out_token].reorders_rows:
        # the output's action keeps the node order (e3nn irreps only rotate features): the
        # inputs are moved without reordering their rows, and the graph structure is passed as
        # recorded; node permutations are tested end to end
        plan = [a.rows_fixed() if isinstance(a, Action) else a for a in plan]
    # node indices are relabelled where the output's rows move with the nodes (a scatter over
    # edges that keep their order, or node features that move too)
    if "index" in plan and (relabel is None or not actions[call.out_token].reorders_rows):
        plan = [None if a == "index" else a for a in plan]
    return plan, ""


def _why_untestable(call: Call, actions: dict[int, Action], notes: dict[str, str]) -> str:
    if not call.sliceable:
        return "its batch axis is not the first axis"
    if len(call.in_tokens) != 1 or call.args[0] is None:
        return f"it takes {len(call.in_tokens)} inputs; only one-input layers are tested alone"
    if call.output is None:
        return "its output is not a tensor"
    if call.name in notes:
        return notes[call.name]
    if call.in_tokens[0] not in actions:
        return (
            "the group action on its input is unknown (it declares no in_type/in_rep and is not "
            "fed by a layer that does)"
        )
    if call.out_token not in actions:
        return (
            "the group action on its output is unknown (it declares no out_type/out_rep and does "
            "not feed a layer that declares one)"
        )
    return ""


# ------------------------------------------------------------------------- probes
@contextlib.contextmanager
def _refreshed(module: torch.nn.Module):
    """Make libraries rebuild eval-mode caches (escnn filters, eLinear weights) around a change."""
    mode = module.training
    try:
        module.train()
        module.eval()
        yield
    finally:
        module.train()
        module.train(mode)


def _perturb(module: torch.nn.Module, gen: torch.Generator) -> bool:
    changed = False
    with torch.no_grad():
        for p in module.parameters():
            if p.is_floating_point() and p.numel() > 0:
                scale = float(p.abs().mean()) or 1.0
                p.add_(0.5 * scale * torch.randn(p.shape, generator=gen).to(p))
                changed = True
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.mul_(torch.rand(b.shape, generator=gen).to(b) + 0.5)
                changed = True
            elif name.endswith("running_mean"):
                b.add_(0.5 * torch.randn(b.shape, generator=gen).to(b))
                changed = True
    return changed


def probe_constraints(
    test: LayerTest, elements: Sequence[TestElement], seed: int, chunk: int | None
) -> float | None:
    """Error with perturbed parameters; ``None`` when the layer has no parameters."""
    module = test.module
    if is_container(module) or not any(True for _ in module.parameters()):
        return None
    gen = torch.Generator().manual_seed(seed)
    with snapshot_tensors(module):
        if not _perturb(module, gen):
            return None
        with _refreshed(module):
            h = test.call.args[0]
            with torch.no_grad():
                y = unwrap(module(h))
            _, rel, _ = measure(module, h, y, test.in_action, test.out_action, elements, chunk)
    with _refreshed(module):
        pass
    return float(rel.max())


def train_mode_error(test: LayerTest, elements: Sequence[TestElement]) -> float:
    """Normalisation layers in train mode, on a batch that holds h and g·h together.

    Batch statistics then mix the original and the transformed samples: a layer whose statistics
    are shared within each field gives g·out(h) for the g·h half, while per-channel statistics
    depend on the batch's composition (a batch that is not a whole orbit) and do not.
    """
    module = test.module
    h = test.call.args[0]
    ht = unwrap(h)
    B = ht.shape[0]
    worst_rel = 0.0
    with snapshot_tensors(module):  # train-mode passes update running statistics
        mode = module.training
        set_mode(module, True)
        try:
            with torch.no_grad():
                for e in elements:
                    moved = test.in_action.apply([e], ht)[0]
                    both = torch.cat([ht, moved], 0).contiguous()
                    out = unwrap(module(rewrap(h, both)))
                    expected = test.out_action.apply([e], out[:B])[0]
                    _, rel = relative_errors(out[B:].unsqueeze(0), expected.unsqueeze(0))
                    worst_rel = max(worst_rel, float(rel.max()))
        finally:
            set_mode(module, mode)
    return worst_rel


def gradient_error(
    test: LayerTest, elements: Sequence[TestElement], seed: int, chunk: int | None
) -> float | None:
    """The layer's vector-Jacobian product must transform by the actions (orthogonal actions)."""
    if not (test.in_action.orthogonal and test.out_action.orthogonal):
        return None
    module = test.module
    h = test.call.args[0]
    ht = unwrap(h)
    if not ht.is_floating_point():
        return None
    ident = [e for e in elements if e.identity]
    if not ident:
        return None
    # a generic point near h: ReLU zeros make ties in max operations (group pooling), where the
    # subgradient's tie-breaking is arbitrary; off the ties the test is about the layer itself
    gen = torch.Generator().manual_seed(seed + 1)
    ht = ht + 1e-3 * ht.std() * torch.randn(ht.shape, generator=gen).to(ht)
    h = rewrap(h, ht)
    copies = test.in_action.apply(elements, ht).contiguous().detach().requires_grad_(True)
    G, B = copies.shape[:2]
    with torch.enable_grad():
        flat = copies.reshape(G * B, *copies.shape[2:])
        out = unwrap(module(rewrap(h, flat)))
        gen = torch.Generator().manual_seed(seed)
        v = torch.randn(B, *out.shape[1:], generator=gen).to(out)
        cot = test.out_action.apply(elements, v).reshape_as(out)
        if not out.requires_grad:
            return None
        (grad,) = torch.autograd.grad(out, copies, grad_outputs=cot, allow_unused=True)
    if grad is None:
        return None
    i0 = elements.index(ident[0])
    expected = test.in_action.apply(elements, grad[i0])
    _, rel = relative_errors(grad, expected)
    return float(rel.max())


# ------------------------------------------------------------------------- driver
def run_layerwise(
    recorder: Recorder,
    G: Any,
    in_action: Action,
    out_action: Action,
    elements: Sequence[TestElement],
    *,
    seed: int = 0,
    chunk: int | None = None,
    probe: bool = True,
    relabel=None,
    default_action=None,
) -> tuple[list[LayerTest], list[UntestedLayer]]:
    """Test every testable layer; containers of passing layers are not tested again."""
    actions, notes = assign_actions(recorder, G, in_action, out_action, default_action)
    tests, untested = select(recorder, actions, notes, relabel)
    for t in tests:
        t.extra["relabel"] = relabel
    # the identity is tested end to end; alone, layers are tested on the elements that move.
    # Rigid motions that also reorder nodes (E3 x Sn) are tested in two parts: the motion with
    # the nodes in place (every layer), and the full element on layers whose tensors can be
    # told to be per node by their row count (see _permutation_test)
    reorderings = [e for e in elements if getattr(e.value, "perm", None) is not None]
    elements = [_nodes_in_place(e) for e in elements]
    exact = [e for e in elements if e.exact and not e.identity]
    use = exact or [e for e in elements if not e.identity] or list(elements)
    probe_elements = use[:2]
    cache = MovedCache()
    done: list[LayerTest] = []
    for test in tests:  # completion order: children before their parents
        module = test.module
        prefix = test.name + "."
        child_tests = [t for t in done if t.name.startswith(prefix)]
        if is_container(module) and child_tests:
            direct = {t.name[len(prefix) :].split(".")[0] for t in child_tests}
            covered = len(direct) >= len(module._modules)
            if any(not t.result.passed for t in child_tests):
                continue  # the failing layer inside is named; the sequence adds nothing
            if covered:
                untested.append(
                    _untested(
                        test.call, "not tested separately: a sequence of layers that all pass"
                    )
                )
                continue
        try:
            _run_one(test, use, seed, chunk, probe, probe_elements, cache)
            if reorderings and test.result.passed:
                _permutation_test(test, reorderings, chunk)
        except Exception as exc:  # a layer that cannot run on transformed copies
            log.debug("layer %s could not be tested", test.name, exc_info=True)
            untested.append(_untested(test.call, f"calling it on transformed inputs failed: {exc}"))
            continue
        done.append(test)
    # the parts of a tested library layer (PyG's aggregation inside a convolution, ...) are its
    # implementation: listed as untested only when the layer itself could not be tested
    tested_library = {t.name + "." for t in done if is_library_module(t.module)}
    untested = [u for u in untested if not any(u.name.startswith(p) for p in tested_library)]
    return _merge_calls(done), untested


def measure_multi(test: LayerTest, elements: Sequence[TestElement]):
    """A layer with several inputs (node features and graph structure, ...).

    All transformed copies go through the layer in one call where they can be stacked as PyG
    stacks graphs (:func:`_stacked_call`), element by element otherwise.
    """
    call = test.call
    y = unwrap(call.output)
    with torch.no_grad():
        out = _stacked_call(test, elements)
        if out is None:
            out = torch.stack(
                [unwrap(call.invoke(call.module, _moved_args(test, e))) for e in elements]
            )
        exp = test.out_action.apply(elements, y)
    diff = out - exp
    abs_err, rel_err = relative_errors(out, exp, diff)
    return abs_err, rel_err, diff


def _moved_args(test: LayerTest, e: TestElement) -> list:
    """The layer's positional arguments with element ``e`` applied by the argument plan."""
    call, relabel = test.call, test.extra.get("relabel")
    args = []
    for plan, recorded, raw in zip(test.arg_plan, call.args, call.raw_args, strict=False):
        if plan is None:
            args.append(raw if recorded is None else recorded)
        elif plan == "index":
            args.append(relabel(e, recorded))
        else:
            moved = plan.apply([e], unwrap(recorded))[0]
            args.append(rewrap(recorded, moved))
    return args


#: a stacked call must reproduce the recorded output on its unmoved copies to this precision
_STACKED_MATCH = 1e-4


def _stacked_call(test: LayerTest, elements: Sequence[TestElement]) -> torch.Tensor | None:
    """``(G, rows, ...)``: every copy through the layer in one call, or None when the copies
    cannot be stacked.

    Tensors are concatenated along their rows; an edge index is offset by the node count of
    each copy. The stack is framed by two unmoved copies, first and last: a layer that mixes
    rows across copies (a normalisation over all rows, a cumulative sum) does not reproduce
    the recorded output on both of them, and is then called element by element instead.
    """
    call, relabel = test.call, test.extra.get("relabel")
    G = len(elements)
    recorded = [unwrap(r) for r in call.args]
    if any(
        r is not None and type(a) is not torch.Tensor
        for r, a in zip(recorded, call.args, strict=True)
    ):
        return None  # wrapped tensors (GeometricTensor): element by element
    indices = [k for k, r in enumerate(recorded) if r is not None and _edge_like(r)]
    if len(indices) > 1:
        return None
    offset = 0
    if indices:
        index = recorded[indices[0]]
        reach = int(index.max()) + 1 if index.numel() else 0
        rows = [
            r.shape[0]
            for k, r in enumerate(recorded)
            if r is not None and k not in indices and r.dim() > 0 and r.shape[0] >= reach
        ]
        if not rows:
            return None
        offset = min(rows)  # the node rows; edge rows are at least as many
    parts: list[list[torch.Tensor] | None] = []
    for k, (plan, r) in enumerate(zip(test.arg_plan, recorded, strict=False)):
        if r is None:
            parts.append(None)
        elif k in indices:
            moved = [relabel(e, r) for e in elements] if plan == "index" else [r] * G
            copies = [r, *moved, r]
            parts.append([c + i * offset for i, c in enumerate(copies)])
        elif isinstance(plan, Action):
            moved = plan.apply(elements, r)
            parts.append([r, *moved.unbind(0), r])
        else:
            parts.append([r] * (G + 2))
    args = [
        raw if part is None else torch.cat(part, dim=1 if k in indices else 0)
        for k, (part, raw) in enumerate(zip(parts, call.raw_args, strict=False))
    ]
    y = unwrap(call.output)
    try:
        out = unwrap(call.invoke(call.module, args))
    except (RuntimeError, torch.cuda.OutOfMemoryError, IndexError, ValueError):
        return None  # cannot run stacked (memory, shapes): element by element
    if not isinstance(out, torch.Tensor) or out.shape[0] != (G + 2) * y.shape[0]:
        return None
    out = out.reshape(G + 2, *y.shape)
    ends = torch.stack([out[0], out[-1]])
    _, rel = relative_errors(ends, y.unsqueeze(0).expand_as(ends))
    if not bool(rel.max() <= _STACKED_MATCH):
        return None
    return out[1:-1]


def _run_one(test, elements, seed, chunk, probe, probe_elements, cache) -> None:
    call = test.call
    h, y = call.args[0], unwrap(call.output)
    if test.arg_plan is not None:
        _, rel, diff = measure_multi(test, elements)
        level, wi, levels = judge(rel, elements, torch.zeros(len(elements), dtype=torch.float64))
        test.worst_element, test.error_map = elements[wi], diff[wi].detach()
        test.extra["levels"] = list(zip(elements, levels, strict=True))
        test.result = LayerResult(
            name=call.name,
            kind=type(test.module).__name__,
            max_rel=float(rel.max()),
            level=level,
            passed=passes(level),
            in_action=" , ".join(a.describe() for a in test.arg_plan if isinstance(a, Action)),
            out_action=test.out_action.describe(),
            failing_element=None if passes(level) else elements[wi].label,
        )
        _translation_recheck(test, elements, chunk)
        return
    _, rel, diff = measure(
        test.module,
        h,
        y,
        test.in_action,
        test.out_action,
        elements,
        chunk,
        cache=cache,
        tokens=(call.in_tokens[0], call.out_token),
    )
    # off the grid, interpolation enters on both sides: before the layer (on h) and after it
    # (on y); a nonlinear layer does not commute with it, so the floor is the larger of the two
    floors = torch.maximum(
        interpolation_floor(test.in_action, elements, unwrap(h)),
        interpolation_floor(test.out_action, elements, y),
    )
    level, wi, levels = judge(rel, elements, floors)
    test.extra["levels"] = list(zip(elements, levels, strict=True))
    test.worst_element = elements[wi]
    test.error_map = diff[wi].detach()
    result = LayerResult(
        name=call.name,
        kind=type(test.module).__name__,
        max_rel=float(rel.max()),
        level=level,
        passed=passes(level),
        in_action=test.in_action.describe(),
        out_action=test.out_action.describe(),
        failing_element=None if passes(level) else elements[wi].label,
        interpolated=not all(e.exact for e in elements),
    )
    # layers that declare their representations are constrained by construction (escnn,
    # symm-learning); the probes look for layers that are equivariant only by accident
    if probe and result.passed and declared_actions(test.module, None)[0] is None:
        result.probe_max_rel = probe_constraints(test, probe_elements, seed, chunk)
        if is_normalization(test.module):
            result.train_max_rel = train_mode_error(test, probe_elements)
    test.result = result
    _translation_recheck(test, elements, chunk)


def _rows(value: Any) -> int | None:
    t = unwrap(value)
    return int(t.shape[0]) if t is not None and t.dim() > 0 else None


def _permutation_test(test: LayerTest, elements: Sequence[TestElement], chunk) -> None:
    """The layer under rigid motions that also reorder the nodes.

    A tensor with as many rows as there are nodes moves with them (``NodeAction``); other
    tensors (edges, graphs) keep their rows, and edge indices are relabelled. Layers where
    node and edge counts coincide are left to the end-to-end test (they cannot be told apart).
    """
    from ..symmetry._points import NodeAction

    call = test.call
    n = int(elements[0].value.perm.numel())
    out_rows = _rows(call.output)

    def node_level(action: Action, rows: int | None) -> Action:
        inner = action.rows_fixed()
        return NodeAction(inner) if rows == n else inner

    if test.arg_plan is None:
        in_rows = _rows(call.args[0])
        if in_rows != n and out_rows != n:
            return
        in_a, out_a = node_level(test.in_action, in_rows), node_level(test.out_action, out_rows)
        _, rel, _ = measure(
            test.module, call.args[0], unwrap(call.output), in_a, out_a, elements, chunk
        )
    else:
        edges = [
            unwrap(r).shape[1]
            for p, r in zip(test.arg_plan, call.args, strict=False)
            if p == "index" or (r is not None and _edge_like(unwrap(r)))
        ]
        if not edges or n in edges or test.extra.get("relabel") is None:
            return
        plan = []
        for a, r in zip(test.arg_plan, call.args, strict=False):
            if isinstance(a, Action):
                plan.append(node_level(a, _rows(r)))
            elif r is not None and _edge_like(unwrap(r)):
                plan.append("index")
            else:
                plan.append(a)
        moved = LayerTest(
            call, test.in_action, node_level(test.out_action, out_rows), arg_plan=plan
        )
        moved.extra["relabel"] = test.extra["relabel"]
        _, rel, _ = measure_multi(moved, elements)
    value = float(rel.max())
    test.extra["permutation_error"] = value
    level = classify(value)
    if not passes(level):
        wi = int(rel.max(dim=1).values.argmax())
        test.result.passed = False
        test.result.level = level
        test.result.max_rel = max(test.result.max_rel, value)
        test.result.failing_element = elements[wi].label
        test.worst_element = elements[wi]


def _edge_like(t: torch.Tensor | None) -> bool:
    return t is not None and t.dim() == 2 and t.shape[0] == 2 and not t.is_floating_point()


def _nodes_in_place(element: TestElement) -> TestElement:
    """A rigid motion that also reorders nodes, without the reordering."""
    value = element.value
    if getattr(value, "perm", None) is None:
        return element
    label = element.label.replace(" + node permutation", "")
    return TestElement(label, type(value)(value.R, value.t, None), element.exact)


def _without_translation(element: TestElement) -> TestElement | None:
    """The element with its translation dropped (rigid motions), or None if it has none."""
    t = getattr(element.value, "t", None)
    if not isinstance(t, torch.Tensor) or not bool(t.abs().max() > 0):
        return None
    value = type(element.value)(element.value.R, torch.zeros_like(t), element.value.perm)
    return TestElement(f"{element.label} without translation", value, element.exact)


def _translation_recheck(test: LayerTest, elements, chunk) -> None:
    """A failing layer on translated points, tested again without the translations: when it
    passes then, the layer reads absolute positions (``extra["without_translation"]``)."""
    if test.result.passed:
        return
    moved = [_without_translation(e) for e in elements]
    if not any(moved):
        return
    fixed = [m if m is not None else e for m, e in zip(moved, elements, strict=True)]
    if test.arg_plan is not None:
        _, rel, _ = measure_multi(test, fixed)
    else:
        call = test.call
        _, rel, _ = measure(
            test.module,
            call.args[0],
            unwrap(call.output),
            test.in_action,
            test.out_action,
            fixed,
            chunk,
        )
    test.extra["without_translation"] = float(rel.max())


def recheck_float64(test: LayerTest, elements: Sequence[TestElement]) -> None:
    """A float32 failure tested again in float64 on the same input: round-off, or structure?

    Layers with several inputs (tensor products with their edge attributes and weights, message
    passing with the graph structure) get every floating input in float64.
    """
    module = test.module
    call = test.call
    floating = [unwrap(a) for a in call.args if unwrap(a) is not None]
    floating = [t for t in floating if t.is_floating_point()]
    if not floating or any(t.dtype == torch.float64 for t in floating):
        return
    if "permutation_error" in test.extra and not passes(classify(test.extra["permutation_error"])):
        return  # the node order is not round-off
    use = [e for e in elements if e.exact and not e.identity] or list(elements)
    with snapshot_tensors(module):
        convert_floating(module, torch.float64)
        hooks = cast_outputs(module, torch.float64)
        try:
            args64 = [_to_float64(a) for a in call.args]
            if test.arg_plan is not None:
                raw64 = [
                    _to_float64(r) if a is None else a
                    for r, a in zip(call.raw_args, args64, strict=False)
                ]
                call_args = [a if a is not None else r for a, r in zip(args64, raw64, strict=False)]
                with torch.no_grad():
                    y64 = unwrap(call.invoke(module, call_args))
                moved = replace(call, args=args64, raw_args=raw64, output=y64)
                _, rel, _ = measure_multi(replace(test, call=moved), use)
            else:
                with torch.no_grad():
                    y64 = unwrap(module(args64[0]))
                _, rel, _ = measure(module, args64[0], y64, test.in_action, test.out_action, use)
        finally:
            remove_hooks(hooks)
    value = float(rel.max())
    test.result.float64_max_rel = value
    if classify(value) == Level.PERFECT:
        test.result.passed = True
        test.result.level = Level.EXCELLENT
        test.result.failing_element = None


def _to_float64(value: Any) -> Any:
    """A recorded float32 argument in float64 (GeometricTensors keep their type); others as is."""
    tensor = unwrap(value)
    if tensor is None or not tensor.is_floating_point():
        return value
    return rewrap(value, tensor.to(torch.float64))


def _merge_calls(tests: list[LayerTest]) -> list[LayerTest]:
    """One result per module path: a module called several times keeps its worst call."""
    merged: dict[str, LayerTest] = {}
    order = [Level.PERFECT, Level.EXCELLENT, Level.APPROXIMATE, Level.BROKEN]
    for t in tests:
        prev = merged.get(t.name)
        if prev is None or (order.index(t.result.level), t.result.max_rel) > (
            order.index(prev.result.level),
            prev.result.max_rel,
        ):
            merged[t.name] = t
    return sorted(merged.values(), key=lambda t: t.call.index)
