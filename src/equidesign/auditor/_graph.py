"""Recording what flows through a model, and which group action each flowing tensor carries.

Forward hooks record, for every module call, the input it actually received and the output it
produced (the slice of the batch that belongs to the original inputs, cloned). Every tensor that
passes between modules gets a token, so the tensors form a graph: the output of one module is
the input of the next when it is the same object.

Actions are then assigned to tokens, strongest evidence first:

1. a GeometricTensor carries its escnn ``FieldType``;
2. a module declares its representations (escnn ``in_type``/``out_type``, symm-learning
   ``in_rep``/``out_rep``, generated models' annotations);
3. the model's own inputs and outputs carry the symmetry's actions;
4. shape-preserving elementwise layers (ReLU, Tanh, Dropout, Identity, ...) pass the action of
   what flows into them through, both ways;
5. a plain shape-keeping layer (``Linear(d, d)``, BatchNorm, ``Conv2d(c, c)``) that nothing else
   types gets the action flowing into it, so that an unprojected layer is tested (and fails);
6. what the symmetry says of tensors by their shape (node-sized tensors of graphs, per-element
   tensors of sets), given the shape of one copy.
"""

from __future__ import annotations

import re
import sys
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch

from ..symmetry.actions import Action, FieldAction, PermutationAction, RepAction, TrivialAction
from ._tensors import is_geometric, unwrap

__all__ = ["Call", "Recorder", "assign_actions", "ELEMENTWISE", "is_elementwise"]

_TOKEN = "_equidesign_token"

#: torch layers that act on each entry alone and keep the shape
ELEMENTWISE = (
    torch.nn.ReLU,
    torch.nn.ReLU6,
    torch.nn.LeakyReLU,
    torch.nn.PReLU,
    torch.nn.ELU,
    torch.nn.SELU,
    torch.nn.CELU,
    torch.nn.GELU,
    torch.nn.SiLU,
    torch.nn.Mish,
    torch.nn.Sigmoid,
    torch.nn.Tanh,
    torch.nn.Hardtanh,
    torch.nn.Hardswish,
    torch.nn.Hardsigmoid,
    torch.nn.Softplus,
    torch.nn.Softsign,
    torch.nn.Tanhshrink,
    torch.nn.Dropout,
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.AlphaDropout,
    torch.nn.Identity,
)

#: pointwise nonlinearities (a subset of ELEMENTWISE): they commute only with permutations
POINTWISE_NONLINEAR = tuple(
    c
    for c in ELEMENTWISE
    if c
    not in (
        torch.nn.Dropout,
        torch.nn.Dropout1d,
        torch.nn.Dropout2d,
        torch.nn.Dropout3d,
        torch.nn.AlphaDropout,
        torch.nn.Identity,
    )
)


def is_elementwise(module: torch.nn.Module) -> bool:
    return isinstance(module, ELEMENTWISE)


@dataclass
class Call:
    """One call of one module during the recorded forward pass."""

    name: str
    module: torch.nn.Module
    index: int  # completion order
    args: list[Any]  # recorded (sliced, cloned) positional inputs; None where not tensor-like
    # the arguments as passed, for what they are (GeometricTensor types, shapes, dtypes); a
    # recorded (sliced) tensor's stand-in here is storage-free (device "meta")
    raw_args: list[Any]
    in_tokens: list[int | None]
    output: Any = None  # recorded (sliced, cloned) output
    out_token: int | None = None
    kwargs_tensors: bool = False
    #: names of the keyword arguments that carried tensors: the last ``len(kw_names)`` entries
    #: of ``args``/``raw_args``/``in_tokens`` (recorded like positional ones)
    kw_names: tuple[str, ...] = ()
    #: the keyword arguments that carried no tensor (passed again as they were)
    kw_plain: dict = field(default_factory=dict)
    sliceable: bool = True
    in_shapes: list[tuple] = field(default_factory=list)
    out_shape: tuple | None = None

    def invoke(self, module: torch.nn.Module, args: list) -> Any:
        """``module`` called as recorded: ``args`` split back into positional arguments and the
        tensor keyword arguments, with the plain keyword arguments."""
        n = len(args) - len(self.kw_names)
        return module(*args[:n], **dict(zip(self.kw_names, args[n:], strict=True)), **self.kw_plain)


def _edge_index(tensor: torch.Tensor) -> bool:
    return tensor.dim() == 2 and tensor.shape[0] == 2 and not tensor.is_floating_point()


def _integer_vector(tensor: Any) -> bool:
    """A 1-D tensor of integers (node indices per edge, atom types per node)."""
    return (
        isinstance(tensor, torch.Tensor)
        and tensor.dim() == 1
        and not tensor.is_floating_point()
        and not tensor.is_complex()
        and tensor.dtype != torch.bool
    )


class Recorder:
    """Forward hooks that record every module call on the original inputs' share of the batch.

    The recorded forward pass runs ``copies`` stacked copies of the inputs, contiguous along
    the first axis (the original first): a tensor with ``copies x k`` rows keeps its first ``k``
    rows (samples, nodes, edges or graphs alike).

    Args:
        model: the model.
        copies: how many stacked copies the forward pass runs (1: the inputs alone).
    """

    def __init__(self, model: torch.nn.Module, copies: int = 1):
        self.model = model
        self.copies = copies
        self.calls: list[Call] = []
        self._pending: dict[int, list[Call]] = {}
        self._handles: list[Any] = []
        self._next_token = 0
        # weak references only: the recorder keeps the original inputs' share of each tensor,
        # never the whole batch's activations (|G|+1 times the memory of one forward pass)
        self._tagged: list[weakref.ref] = []
        self._clones: dict[tuple[int, int], tuple[weakref.ref, torch.Tensor]] = {}
        self.input_token: int | None = None
        self.output_token: int | None = None
        self.seeded: dict[int, Action] = {}

    def seed(self, tensor: torch.Tensor, action: Action) -> None:
        """A tensor inside the model's input (a graph's node features, positions) and its action."""
        token = self.token_of(tensor)
        if token is not None:
            self.seeded[token] = action

    def batched(self, tensor: torch.Tensor) -> bool:
        """Whether a tensor carries the stacked copies on its first axis."""
        return tensor.dim() > 0 and tensor.shape[0] % self.copies == 0 and tensor.shape[0] > 0

    # --- tokens ------------------------------------------------------------------------
    def token_of(self, value: Any, create: bool = True) -> int | None:
        tensor = unwrap(value)
        if tensor is None:
            return None
        token = getattr(tensor, _TOKEN, None)
        if token is None and create:
            token = self._next_token
            self._next_token += 1
            try:
                setattr(tensor, _TOKEN, token)
            except (AttributeError, RuntimeError):  # some tensor subclasses refuse attributes
                return None
            self._tagged.append(weakref.ref(tensor))
        return token

    def _slice(self, value: Any) -> tuple[Any, bool]:
        tensor = unwrap(value)
        if tensor is None:
            return None, True
        if not self.batched(tensor):
            if _edge_index(tensor) and tensor.shape[1] % self.copies == 0:
                # graph structure: the first copy's edges come first, over its nodes
                return tensor[:, : tensor.shape[1] // self.copies].clone(), True
            return None, False
        # the output of one layer is the input of the next: clone each tensor once per version
        # (an in-place layer bumps the version, so its output is recorded anew)
        key = (id(tensor), tensor._version)
        part = self._clones.get(key)
        if part is None or part[0]() is not tensor:
            part = (weakref.ref(tensor), tensor.detach()[: tensor.shape[0] // self.copies].clone())
            self._clones[key] = part
        part = part[1]
        if is_geometric(value):
            from ._tensors import rewrap

            return rewrap(value, part), True
        return part, True

    # --- hooks ---------------------------------------------------------------------------
    def __enter__(self) -> Recorder:
        from ._state import all_modules

        seen = set()
        for name, module in all_modules(self.model):
            if id(module) in seen:
                continue
            seen.add(id(module))
            self._handles.append(
                module.register_forward_pre_hook(self._pre(name), with_kwargs=True)
            )
            self._handles.append(module.register_forward_hook(self._post(name), with_kwargs=True))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._clones.clear()
        for ref in self._tagged:
            tensor = ref()
            if tensor is None:
                continue
            try:
                delattr(tensor, _TOKEN)
            except AttributeError:
                pass
        self._tagged.clear()

    def _stand_in(self, value: Any, recorded: Any) -> Any:
        """What ``raw_args`` keeps of an argument: the value itself when it was not recorded (a
        plain value, a tensor that is not batched), else a storage-free copy of its wrapper."""
        tensor = unwrap(value)
        if tensor is None or recorded is None:
            return value
        from ._tensors import rewrap

        return rewrap(value, torch.empty(tensor.shape, dtype=tensor.dtype, device="meta"))

    def _pre(self, name: str):
        def hook(module, args, kwargs):
            kw_tensors = [(k, v) for k, v in kwargs.items() if unwrap(v) is not None]
            kw_plain = {k: v for k, v in kwargs.items() if unwrap(v) is None}
            args = (*args, *(v for _, v in kw_tensors))
            recorded, sliceable = [], True
            for a in args:
                part, ok = self._slice(a)
                recorded.append(part)
                sliceable &= ok
            call = Call(
                name=name,
                module=module,
                index=-1,
                args=recorded,
                raw_args=[self._stand_in(a, r) for a, r in zip(args, recorded, strict=True)],
                in_tokens=[self.token_of(a) for a in args],
                kwargs_tensors=bool(kw_tensors),
                kw_names=tuple(k for k, _ in kw_tensors),
                kw_plain=kw_plain,
                sliceable=sliceable,
                in_shapes=[tuple(unwrap(a).shape) if unwrap(a) is not None else () for a in args],
            )
            if name == "" and call.in_tokens:
                self.input_token = call.in_tokens[0]
            self._pending.setdefault(id(module), []).append(call)

        return hook

    def _post(self, name: str):
        def hook(module, args, kwargs, output):
            call = self._pending[id(module)].pop()
            call.index = len(self.calls)
            call.output, ok = self._slice(output)
            call.sliceable &= ok
            call.out_token = self.token_of(output)
            tensor = unwrap(output)
            call.out_shape = tuple(tensor.shape) if tensor is not None else None
            if is_geometric(output):  # keeps its FieldType for action assignment
                call.raw_args.append(self._stand_in(output, call.output))
            if name == "":
                self.output_token = call.out_token
            self.calls.append(call)

        return hook


# ------------------------------------------------------------------------- actions
def _same_group(group_a: Any, group_b: Any) -> bool:
    return group_a is group_b or group_a == group_b


def declared_actions(module: torch.nn.Module, G: Any) -> tuple[Action | None, Action | None, str]:
    """The actions a module declares on its input and output (``None`` when it declares none).

    Returns ``(in, out, note)``; ``note`` explains a declaration that could not be used.
    """
    enn = sys.modules.get("escnn.nn")
    esc_group = sys.modules.get("escnn.group")
    in_t, out_t = getattr(module, "in_type", None), getattr(module, "out_type", None)
    if enn is not None and isinstance(in_t, enn.FieldType) and isinstance(out_t, enn.FieldType):
        if G is not None and not _same_group(in_t.fibergroup, G):
            return None, None, f"acts with {in_t.fibergroup.name}, not the audited {G.name}"
        return _field_action(in_t), _field_action(out_t), ""
    if esc_group is not None:
        try:
            in_r, out_r = getattr(module, "in_rep", None), getattr(module, "out_rep", None)
        except AttributeError:
            in_r = out_r = None
        if isinstance(in_r, esc_group.Representation) and isinstance(
            out_r, esc_group.Representation
        ):
            if G is not None and not _same_group(in_r.group, G):
                return None, None, f"acts with {in_r.group.name}, not the audited {G.name}"
            return RepAction(in_r), RepAction(out_r), ""
    a_in, a_out = (
        _annotation(getattr(module, "in_action", None)),
        _annotation(getattr(module, "out_action", None)),
    )
    if a_in is not None and a_out is not None:
        return a_in, a_out, ""
    irreps = _e3nn_actions(module)
    if irreps is not None:
        return irreps[0], irreps[1], ""
    return None, None, ""


def _e3nn_actions(module: torch.nn.Module) -> tuple[Action, Action] | None:
    """e3nn modules (and modules written like them) declare ``irreps_in``/``irreps_out``
    (``irreps_in1`` for tensor products)."""
    if "e3nn" not in sys.modules:
        return None
    irreps_in = getattr(module, "irreps_in", None) or getattr(module, "irreps_in1", None)
    irreps_out = getattr(module, "irreps_out", None)
    if irreps_in is None or irreps_out is None:
        return None
    from ..symmetry._points import IrrepsAction

    try:
        return _irreps_action(irreps_in, IrrepsAction), _irreps_action(irreps_out, IrrepsAction)
    except Exception:  # not irreps after all
        return None


_IRREPS_ACTIONS: dict[str, Action] = {}


def _irreps_action(irreps: Any, cls) -> Action:
    key = str(irreps)
    if key not in _IRREPS_ACTIONS:
        _IRREPS_ACTIONS[key] = cls(irreps)
    return _IRREPS_ACTIONS[key]


_PERMUTATION = re.compile(r"^permutation\(dim=(-?\d+)\)$")


def _annotation(value: Any) -> Action | None:
    """Actions that generated (or user) modules declare as plain strings, so that their code
    needs nothing from equidesign: ``"invariant"``, ``"permutation(dim=1)"``."""
    if isinstance(value, Action):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("invariant", "trivial"):
        return TrivialAction()
    match = _PERMUTATION.match(text.replace(" ", ""))
    if match:
        return PermutationAction(dim=int(match.group(1)))
    return None


_FIELD_ACTIONS: dict[Any, Action] = {}


def _field_action(field_type: Any) -> Action:
    """One action per field type, so that layers sharing a type share its prepared maps."""
    action = _FIELD_ACTIONS.get(field_type)
    if action is None:
        if len(_FIELD_ACTIONS) > 512:
            _FIELD_ACTIONS.clear()
        action = _FIELD_ACTIONS[field_type] = _new_field_action(field_type)
    return action


def _new_field_action(field_type: Any) -> Action:
    if field_type.gspace.dimensionality == 0:
        # no base space: a plain representation on the channel axis
        rep = field_type.representation
        return RepAction(rep, dim=1, name=rep.name)
    return FieldAction(field_type)


def assign_actions(
    recorder: Recorder,
    G: Any,
    in_action: Action,
    out_action: Action,
    default: Any = None,
) -> tuple[dict[int, Action], dict[str, str]]:
    """Assign an action to every token whose action is known; see the module docstring.

    Returns the token -> action map and a name -> note map for unusable declarations.
    """
    actions: dict[int, Action] = {}
    notes: dict[str, str] = {}
    enn = sys.modules.get("escnn.nn")

    def put(token, action, overwrite=False):
        if token is None or action is None:
            return
        if overwrite or token not in actions:
            actions[token] = action

    # 1. GeometricTensors carry their types
    if enn is not None:
        for call in recorder.calls:
            for value, token in zip(call.raw_args, call.in_tokens + [call.out_token], strict=False):
                if isinstance(value, enn.FieldType):
                    continue
                if is_geometric(value) and (G is None or _same_group(value.type.fibergroup, G)):
                    put(token, _field_action(value.type))
    # 2. declarations
    for call in recorder.calls:
        a_in, a_out, note = declared_actions(call.module, G)
        if note:
            notes[call.name] = note
        if call.in_tokens:
            put(call.in_tokens[0], a_in)
        put(call.out_token, a_out)
        for token, action in zip(call.in_tokens[1:], _later_arg_actions(call.module), strict=False):
            put(token, action)
    # 3. the model's own input and output, and tensors inside a structured input
    for token, action in recorder.seeded.items():
        put(token, action)
    put(recorder.input_token, in_action)
    put(recorder.output_token, out_action)
    # 4. elementwise layers pass actions through, both ways, until nothing changes; layers that
    #    act on the last axis alone (Linear, LayerNorm) pass through permutations of other axes
    _propagate(recorder, actions)
    # 5. a plain shape-keeping layer (Linear(d, d), BatchNorm, Conv(c, c)) on group-structured
    #    features is tested against the action flowing into it: the only action it could
    #    respect without a declaration. An unprojected layer fails that test.
    while _assume_kept(recorder, actions):
        _propagate(recorder, actions)
    # 6. what the symmetry says of tensors by their shape alone (graphs: node-sized tensors
    #    move with the nodes) -- the weakest evidence, checked by the layer tests like the rest
    if default is not None:
        for call in recorder.calls:
            pairs = list(zip(call.in_tokens, call.in_shapes, strict=False))
            pairs.append((call.out_token, call.out_shape))
            indices = {
                token
                for token, raw in zip(call.in_tokens, call.raw_args, strict=False)
                if isinstance(unwrap(raw), torch.Tensor) and _edge_index(unwrap(raw))
            }
            integers = {
                token
                for token, raw in zip(call.in_tokens, call.raw_args, strict=False)
                if _integer_vector(unwrap(raw))
            }
            for token, shape in pairs:
                if token is None or token in actions or not shape or token in indices:
                    continue  # an edge index is relabelled by the layer tests, not acted on
                action = default((shape[0] // recorder.copies, *shape[1:]))
                if token in integers and isinstance(action, TrivialAction):
                    continue  # integers per edge: node indices (a scatter's targets), relabelled
                if action is not None:
                    actions[token] = action
    return actions, notes


def _propagate(recorder: Recorder, actions: dict[int, Action]) -> None:
    """Elementwise layers (and last-axis layers under permutations of other axes) pass actions
    through, both ways, until nothing changes; functions of invariants are invariant."""
    changed = True
    while changed:
        changed = False
        for call in recorder.calls:
            if not call.in_tokens:
                continue
            if _invariant_function(call, actions):
                actions[call.out_token] = _TRIVIAL
                changed = True
                continue
            if is_elementwise(call.module):
                if call.in_shapes and call.in_shapes[0] != call.out_shape:
                    continue
            elif not _last_axis_layer(call, actions):
                continue
            a, b = call.in_tokens[0], call.out_token
            if a in actions and b is not None and b not in actions:
                actions[b] = actions[a]
                changed = True
            elif b in actions and a is not None and a not in actions:
                actions[a] = actions[b]
                changed = True


#: plain torch layers that keep their input's shape; without a declaration, the one action
#: they could respect is the one flowing into them
_SHAPE_KEEPING = (
    torch.nn.Linear,
    torch.nn.Bilinear,
    torch.nn.modules.batchnorm._BatchNorm,
    torch.nn.modules.instancenorm._InstanceNorm,
    torch.nn.LayerNorm,
    torch.nn.GroupNorm,
    torch.nn.LocalResponseNorm,
    torch.nn.modules.conv._ConvNd,
)


def _assume_kept(recorder: Recorder, actions: dict[int, Action]) -> bool:
    """Give the output of plain shape-keeping layers the action of their input (first in
    completion order, one layer at a time, so that stronger evidence downstream still wins).

    Returns whether an action was assigned."""
    for call in recorder.calls:
        if not isinstance(call.module, _SHAPE_KEEPING) or len(call.in_tokens) != 1:
            continue
        a, b = call.in_tokens[0], call.out_token
        if a not in actions or b is None or b in actions or actions[a].is_trivial:
            continue
        if not call.in_shapes or call.in_shapes[0] != call.out_shape:
            continue
        actions[b] = actions[a]
        return True
    return False


_TRIVIAL = TrivialAction()


def float_inputs(call: Call) -> list[int | None]:
    """The tokens of a call's floating-point tensor inputs (indices and plain values left out)."""
    return [
        token
        for arg, token in zip(call.raw_args, call.in_tokens, strict=False)
        if unwrap(arg) is not None and unwrap(arg).is_floating_point()
    ]


def invariant_call(call: Call, actions: dict[int, Action]) -> bool:
    """Every floating input of the call is invariant (so is its output: a function of invariants
    is invariant, whatever the layer does). Such calls cannot break equivariance."""
    tokens = float_inputs(call)
    return bool(tokens) and all(
        t is not None and t in actions and actions[t].is_trivial for t in tokens
    )


def _invariant_function(call: Call, actions: dict[int, Action]) -> bool:
    """The call's output action is not known yet and follows from invariant inputs."""
    return (
        call.out_token is not None
        and call.out_token not in actions
        and call.output is not None
        and invariant_call(call, actions)
    )


def _later_arg_actions(module: torch.nn.Module) -> list[Action]:
    """Actions on the second and later positional arguments that a library layer implies:
    an e3nn tensor product's second input has ``irreps_in2``, and per-sample weights (its third
    argument, ``shared_weights=False``) must be invariant."""
    if "e3nn" not in sys.modules or not type(module).__module__.startswith("e3nn."):
        return []
    irreps_in2 = getattr(module, "irreps_in2", None)
    if irreps_in2 is None:
        return []
    from ..symmetry._points import IrrepsAction

    try:
        second = _irreps_action(irreps_in2, IrrepsAction)
    except Exception:  # not irreps after all
        return []
    return [second] if getattr(module, "shared_weights", True) else [second, _TRIVIAL]


_LAST_AXIS = (torch.nn.Linear, torch.nn.LayerNorm)


def _last_axis_layer(call: Call, actions: dict[int, Action]) -> bool:
    """A Linear/LayerNorm whose input carries a permutation of an axis other than the last:
    it maps the last axis only, so the permutation passes through (the test then checks it)."""
    if not isinstance(call.module, _LAST_AXIS) or not call.in_shapes or call.out_shape is None:
        return False
    shape_in, shape_out = call.in_shapes[0], call.out_shape
    action = actions.get(call.in_tokens[0]) or actions.get(call.out_token)
    if not isinstance(action, PermutationAction) or len(shape_in) != len(shape_out):
        return False
    dim = action.dim % len(shape_in)
    return dim != len(shape_in) - 1 and shape_in[:-1] == shape_out[:-1]


def trivial_like(action: Action) -> bool:
    return isinstance(action, TrivialAction)
