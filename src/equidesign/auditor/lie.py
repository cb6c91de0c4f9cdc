r"""The Lie derivative and the local equivariance error (Gruver et al., ICLR 2023).

For a generator :math:`X` with flow :math:`T_t`, the Lie derivative of a model is

.. math::
    L_X f(x) = \frac{d}{dt}\Big|_{t=0} T_{-t}\, f(T_t\, x) = J_f(x)\, v_X(x) - v_X(f(x)),

computed with forward-mode autodiff (``torch.func.jvp``), not finite differences; :math:`v_X`
is the velocity of the action: the spatial motion of a map, plus, for escnn fields whose fibres
turn with rotations, the fibre generator :math:`d\rho\, y` (see :mod:`equidesign.symmetry._fibres`).
The output is moved back when it lives on the input's grid, and left as is when it is invariant.

**LEE, per input** (one input's value never depends on the other inputs of the batch):

* ``softmax`` (classifiers, the paper's definition, as its reference code ``lee/e2e_lee.py``):
  the mean over classes of :math:`|L_X p(x)|`, :math:`p = \operatorname{softmax}(f(x))` over the
  input's output entries;
* ``relative`` (default; any output): :math:`\lVert L_X f(x)\rVert / \lVert f(x) - f(0)\rVert`,
  both norms over that input's output entries. :math:`f(0)`, the output on a blank input, belongs
  to the model: a constant added to the output (a bias) changes neither the Lie derivative nor
  this LEE, where dividing by :math:`\lVert f(x)\rVert` would let a large bias make any model look
  equivariant. Structured inputs (PyG batches) have no blank input: :math:`\lVert f(x)\rVert`;
  an output that is exactly zero gives the absolute value;
* ``absolute``: the mean over output entries of :math:`|L_X f(x)|` (the paper's formula on the
  raw outputs).

The report gives the mean and the standard deviation over the inputs, and every input's value.

**Attribution.** By the chain rule, :math:`L_X f = \sum_i J_{>i}\, L_X f_i(h_{i-1}) + r`: each
layer's own Lie derivative at the input it received, pushed to the output by the Jacobian of the
rest of the network, and a remainder :math:`r` from what the layers do not cover (functional
operations in ``forward``, residual additions, layers with several inputs). Layer :math:`i`'s
share is the signed projection :math:`\langle J_{>i} L_X f_i, L_X f\rangle / \lVert L_X f\rVert^2`
(computed for all layers at once as :math:`\langle L_X f_i, J_{>i}^\top L_X f\rangle` with one
backward pass); the remainder is reported as the vector's relative size
:math:`\lVert r\rVert / \lVert L_X f\rVert`, with :math:`\sum_i J_{>i} L_X f_i` from one
forward-mode pass that adds every layer's :math:`L_X f_i` to its output as a tangent. The shares
plus :math:`\langle r, L_X f\rangle / \lVert L_X f\rVert^2` add up to one. Norms and inner
products are those of the normalisation: of :math:`L_X p` for ``softmax``, weighted by
:math:`1 / \lVert f(x)\rVert^2` per input for ``relative``.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch.func import jvp, vmap

from ..errors import AuditError
from ..symmetry import Symmetry
from ._autograd import forward_ad_kernels
from ._graph import Call, Recorder, declared_actions
from ._state import audit_conditions, model_device, model_dtype
from ._tensors import is_geometric, model_output, rewrap, unwrap
from .layerwise import is_container, is_library_module
from .levels import audit_dtype
from .report import LieDerivativeResult, LieGeneratorResult

log = logging.getLogger(__name__)

__all__ = [
    "lie_derivative",
    "compute_lie_derivative",
    "lie_findings",
    "lie_options",
    "NORMALIZATIONS",
    "PADDING",
]

#: how images are continued beyond their border while they are resampled (the default: mirrored,
#: as the paper's reference code does; circular only suits models on a torus)
PADDING = "reflection"

_UNITS = (
    "t in radians for rotations, input pixels for image translations (the positions' unit on "
    "point clouds), unit shear and log-scale"
)
NORMALIZATIONS = {
    "relative": "LEE per input = ||L_X f(x)|| / ||f(x) - f(0)|| (norms over that input's output "
    "entries; f(0): the output on a blank input, which the Lie derivative never sees; ||f(x)|| "
    "for graph inputs); mean and standard deviation over the inputs",
    "softmax": "LEE per input = mean over classes of |L_X softmax(f(x))| (the paper's definition "
    "for classifiers); mean and standard deviation over the inputs",
    "absolute": "LEE per input = mean over output entries of |L_X f(x)|; mean and standard "
    "deviation over the inputs",
}


def _jvp(fn, primal: torch.Tensor, tangent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():  # forward mode only: no graph for the parameters
        return jvp(fn, (primal,), (tangent,))


def _jvp_many(fn, primal: torch.Tensor, tangents: list[torch.Tensor]):
    """``fn(primal)`` and ``J_fn(primal) t`` for every tangent ``t``: the tangents batched with
    ``vmap`` (the primal is computed once), or one ``jvp`` per tangent where an operation has no
    batching rule."""
    if len(tangents) > 1:
        try:
            with torch.no_grad():
                out, jt = vmap(lambda v: jvp(fn, (primal,), (v,)), out_dims=(None, 0))(
                    torch.stack(tangents)
                )
            return out, list(jt.unbind(0))
        except Exception:  # an op vmap cannot batch, data-dependent control flow
            log.debug("batched jvp failed; one tangent at a time", exc_info=True)
    pairs = [_jvp(fn, primal, t) for t in tangents]
    return pairs[0][0], [t for _, t in pairs]


def _model_lies(model, symmetry, x, flows: dict) -> tuple[torch.Tensor, dict]:
    """``(f(x), {name: L_X f(x)})`` for every flow; tensor inputs share one batched jvp."""
    if not flows:
        return None, {}
    velocities = {g: flow.velocity_in(x) for g, flow in flows.items()}
    if any(isinstance(v, dict) for v in velocities.values()):  # structured inputs
        out, lies = None, {}
        for g, flow in flows.items():
            out, lies[g] = _model_lie(model, symmetry, x, flow)
        return out, lies

    def f(inp):
        return model_output(model(symmetry.model_input(model, inp)))

    y, jys = _jvp_many(f, x, list(velocities.values()))
    lies = {}
    for (g, flow), jy in zip(flows.items(), jys, strict=True):
        lies[g] = (jy - flow.velocity_out(y) if flow.moves_output else jy).detach()
    return y, lies


def _model_lie(model, symmetry, x, flow) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(x), L_X f(x))`` with ``L_X f(x) = J_f(x) v_in(x) - v_out(f(x))``."""
    velocity = flow.velocity_in(x)
    if isinstance(velocity, dict):  # several input tensors move (point clouds: pos, x)
        y, jy = _jvp_attributes(model, symmetry, x, velocity)
    else:

        def f(inp):
            return model_output(model(symmetry.model_input(model, inp)))

        y, jy = _jvp(f, x, velocity)
    return y, (jy - flow.velocity_out(y) if flow.moves_output else jy)


def _jvp_attributes(model, symmetry, batch, velocity: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward-mode derivative of the model along velocities of a structured input's tensors
    (dual tensors: the graph built from them, e.g. a radius graph, is held fixed, which is the
    derivative where no edge sits exactly at the cutoff)."""
    import torch.autograd.forward_ad as fwAD

    try:
        with torch.no_grad(), fwAD.dual_level():
            moved = batch.clone()
            for key, v in velocity.items():
                moved[key] = fwAD.make_dual(batch[key], v.to(batch[key]))
            out = model_output(model(symmetry.model_input(model, moved)))
            primal, tangent = fwAD.unpack_dual(out)
    except (NotImplementedError, RuntimeError):
        # an operation without forward-mode AD (torch.cdist in a radius graph): J v from two
        # reverse passes, J v = d/du <J^T u, v>
        return _jvp_by_double_backward(model, symmetry, batch, velocity)
    if tangent is None:  # the output does not depend on the moved tensors
        tangent = torch.zeros_like(primal)
    return primal, tangent


def _jvp_by_double_backward(model, symmetry, batch, velocity):
    with torch.enable_grad():
        moved = batch.clone()
        leaves = {}
        for key in velocity:
            leaves[key] = batch[key].detach().requires_grad_(True)
            moved[key] = leaves[key]
        out = model_output(model(symmetry.model_input(model, moved)))
        u = torch.zeros_like(out, requires_grad=True)
        grads = torch.autograd.grad(
            out, list(leaves.values()), u, create_graph=True, allow_unused=True
        )
        inner = sum(
            (g * velocity[k].to(g)).sum()
            for k, g in zip(leaves, grads, strict=True)
            if g is not None
        )
        if not torch.is_tensor(inner) or not inner.requires_grad:
            return out.detach(), torch.zeros_like(out).detach()
        (tangent,) = torch.autograd.grad(inner, u, allow_unused=True)
    if tangent is None:
        tangent = torch.zeros_like(out)
    return out.detach(), tangent.detach()


# ------------------------------------------------------------------------- per-input measure
def _sample_ids(symmetry: Symmetry, x: Any, rows: int) -> tuple[torch.Tensor, int]:
    """Which input each output row belongs to: ``(ids (rows,), number of inputs)``."""
    n = symmetry.io.samples(x)
    if rows == n:
        return torch.arange(rows), n
    batch = getattr(x, "batch", None)
    if isinstance(batch, torch.Tensor) and batch.numel() == rows:  # node-level outputs
        return batch.detach().cpu().long(), n
    return torch.arange(rows), rows


class _Measure:
    """The normalisation: per-input LEE, and the weighted inner product attribution uses."""

    def __init__(
        self,
        normalization: str,
        y: torch.Tensor,
        ids: torch.Tensor,
        n: int,
        moved: bool,
        blank: torch.Tensor | None = None,
    ):
        self.kind = normalization
        self.ids, self.n = ids, n
        self.rows = y.reshape(y.shape[0], -1).to(torch.float64)
        if normalization == "softmax":
            if moved or self.rows.shape[1] < 2:
                raise AuditError(
                    f"normalization: 'softmax' is for classifiers (class scores per input); this "
                    f"output has shape {tuple(y.shape)}"
                    + (" and moves with the input" if moved else "")
                    + "; use 'relative'"
                )
            self.p = torch.softmax(self.rows, dim=-1)
        self.out_rows = self.p if normalization == "softmax" else self.rows
        # relative: the input's own response, f(x) - f(0) (the blank input's output, a constant
        # the Lie derivative never sees), else ||f(x)||; absolute where both vanish
        scale = self._per_input(self.rows.pow(2)).sqrt()
        if blank is not None:
            own = self._per_input((self.rows - blank.reshape(1, -1).to(self.rows)).pow(2)).sqrt()
            scale = torch.where(own > 1e-6 * scale, own, scale)
        self.zero = scale <= torch.finfo(torch.float64).tiny
        self.weight = (
            torch.where(self.zero, torch.ones_like(scale), scale.pow(-2))
            if normalization == "relative"
            else torch.ones_like(scale)
        )

    def _per_input(self, rows: torch.Tensor) -> torch.Tensor:
        """Sum over each input's rows and entries: ``(n,)``."""
        per_row = rows.reshape(rows.shape[0], -1).sum(1)
        out = torch.zeros(self.n, dtype=per_row.dtype)
        return out.index_add_(0, self.ids.to(per_row.device).cpu(), per_row.cpu())

    def measured(self, lie: torch.Tensor) -> torch.Tensor:
        """The derivative the LEE is taken of, per row: ``L_X p`` for softmax, else ``L_X f``."""
        d = lie.reshape(lie.shape[0], -1).to(torch.float64)
        if self.kind == "softmax":
            return self.p * (d - (self.p * d).sum(-1, keepdim=True))
        return d

    def lee(self, lie: torch.Tensor) -> torch.Tensor:
        d = self.measured(lie)
        if self.kind == "relative":
            return (self._per_input(d.pow(2)) * self.weight).sqrt()
        entries = torch.zeros(self.n, dtype=torch.float64).index_add_(
            0, self.ids, torch.full((d.shape[0],), float(d.shape[1]), dtype=torch.float64)
        )
        return self._per_input(d.abs()) / entries

    def row_weights(self) -> torch.Tensor:
        return self.weight[self.ids]

    def norm2(self, d: torch.Tensor) -> float:
        """The weighted squared norm of a measured derivative."""
        return float((self._per_input(d.pow(2)) * self.weight).sum())

    def inner(self, a: torch.Tensor, b: torch.Tensor) -> float:
        return float((self._per_input(a * b) * self.weight).sum())


# ------------------------------------------------------------------------- attribution
def _spatial(t: torch.Tensor) -> bool:
    """Feature maps ``(B, C, H, W)``: the flow moves them on their own grid."""
    return t.dim() >= 4 and min(t.shape[-2:]) >= 2


#: at most this many tokens before the patch grid (class token, register tokens)
MAX_PREFIX_TOKENS = 8


class _Layout:
    """Where a tensor's pixels are: on a grid of its own ``(B, C, H, W)``, on the patch grid of
    the input as tokens ``(B, k + h*w, C)`` (a vision transformer's; ``k`` leading class or
    register tokens, which no flow moves), or nowhere (``grid`` is False: left as it is)."""

    def __init__(self, t: torch.Tensor, reference: tuple[int, int] | None):
        self.tokens = None
        self.grid = _spatial(t)
        if not self.grid and t.dim() == 3 and reference is not None:
            self.tokens = patch_grid(t.shape[1], reference)
            self.grid = self.tokens is not None

    def to_grid(self, t: torch.Tensor) -> torch.Tensor:
        if self.tokens is None:
            return t
        k, h, w = self.tokens
        return t[:, k:, :].reshape(t.shape[0], h, w, t.shape[2]).permute(0, 3, 1, 2)

    def from_grid(self, v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if self.tokens is None:
            return v
        k = self.tokens[0]
        body = v.permute(0, 2, 3, 1).reshape(like.shape[0], -1, like.shape[2])
        return torch.cat([torch.zeros_like(like[:, :k, :]), body], 1)


def patch_grid(n: int, reference: tuple[int, int]) -> tuple[int, int, int] | None:
    """``(k, h, w)`` when ``n`` tokens are ``k`` prefix tokens and an ``h x w`` grid with the
    input's aspect ratio (patches of one size along both axes); the fewest prefix tokens win."""
    H, W = reference
    for k in range(0, MAX_PREFIX_TOKENS + 1):
        m = n - k
        if m < 4:
            break
        for h in range(2, int(m**0.5) * 2 + 2):
            if m % h:
                continue
            w = m // h
            if w >= 2 and H * w == W * h and H % h == 0 and W % w == 0:
                return k, h, w
    return None


def _field_type(value: Any):
    return value.type if is_geometric(value) else None


class _LayerLie:
    """One layer call's own Lie derivative, for every generator: the central differences of its
    input and output are taken once and combined per generator; fibres of escnn fields turn with
    rotations (their generator from the field type)."""

    def __init__(self, call: Call, padding_in: str, padding_out: str, reference):
        from ..symmetry.flows import image_gradients

        self.call = call
        self.h = call.args[0]
        self.ht = unwrap(self.h)
        self.reference = reference
        self.ok = self.ht.is_floating_point()
        self.in_type, self.out_type = _field_type(self.h), _field_type(call.output)
        self.y = unwrap(call.output)
        self.in_layout, self.out_layout = _Layout(self.ht, reference), _Layout(self.y, reference)
        self.in_grads = (
            image_gradients(self.in_layout.to_grid(self.ht), padding_in)
            if self.ok and self.in_layout.grid
            else None
        )
        self.out_grads = (
            image_gradients(self.out_layout.to_grid(self.y), padding_out)
            if self.out_layout.grid
            else None
        )

    def undefined(self, name: str) -> str | None:
        from ..symmetry._fibres import fibre_action

        for ft, where in ((self.in_type, "input"), (self.out_type, "output")):
            reason = fibre_action(ft, name, where).undefined
            if reason is not None:
                return reason
        return None

    def _velocity(self, name, grads, z, field_type, layout: _Layout) -> torch.Tensor:
        from ..symmetry._fibres import fibre_action
        from ..symmetry.flows import velocity_from_gradients

        v = (
            torch.zeros_like(z)
            if grads is None
            else layout.from_grid(velocity_from_gradients(name, grads, self.reference), z)
        )
        turn = fibre_action(field_type, name).velocity(z)
        return v if turn is None else v + turn

    def __call__(self, names: list[str]) -> dict[str, torch.Tensor] | None:
        """This layer's own Lie derivative along each generator (one batched jvp)."""
        if not self.ok:
            return None
        h = self.h

        def f(inp):
            return unwrap(self.call.module(rewrap(h, inp)))

        v_in = [
            self._velocity(g, self.in_grads, self.ht, self.in_type, self.in_layout) for g in names
        ]
        _, jys = _jvp_many(f, self.ht, v_in)
        return {
            g: jy - self._velocity(g, self.out_grads, self.y, self.out_type, self.out_layout)
            for g, jy in zip(names, jys, strict=True)
        }


def _leaves(recorder: Recorder) -> list[Call]:
    """Called modules on the data path with no other such call inside them."""
    data = [
        c
        for c in recorder.calls
        if c.name
        and c.sliceable
        and len(c.in_tokens) == 1
        and c.args
        and c.args[0] is not None
        and unwrap(c.args[0]) is not None
        and c.output is not None
        and unwrap(c.output) is not None
        and not c.kwargs_tensors
    ]
    # a library layer that declares its types (escnn's InnerBatchNorm, ...) is one layer: the
    # modules it calls inside (on reshaped tensors) are its implementation
    atomic = {
        c.name + "."
        for c in data
        if is_library_module(c.module)
        and not is_container(c.module)
        and declared_actions(c.module, None)[0] is not None
    }
    data = [c for c in data if not any(c.name.startswith(a) for a in atomic)]
    names = {c.name for c in data}
    return [c for c in data if not any(n.startswith(c.name + ".") for n in names)]


def layer_kind(module: torch.nn.Module) -> str:
    """The layer's class, with its stride when it downsamples (``Conv2d stride 2``)."""
    kind = type(module).__name__
    stride = getattr(module, "stride", None)
    if isinstance(stride, (tuple, list)):
        stride = max(stride) if stride else None
    if isinstance(stride, int) and stride > 1:
        kind += f" stride {stride}"
    return kind


class _Hooks:
    """Forward hooks on the leaves: ``inject(name, k, tensor) -> tensor`` rewrites the k-th call's
    output of each leaf."""

    def __init__(self, model, leaves: list[Call], inject):
        self.model = model
        self.targets = {id(c.module): c.name for c in leaves}
        self.inject = inject
        self.count: dict[str, int] = {}
        self.handles = []

    def __enter__(self):
        for _, module in self.model.named_modules(remove_duplicate=True):
            if id(module) in self.targets:
                self.handles.append(module.register_forward_hook(self._hook))
        return self

    def _hook(self, module, args, output):
        tensor = unwrap(output)
        if tensor is None or not tensor.is_floating_point():
            return None
        name = self.targets[id(module)]
        k = self.count.get(name, 0)
        self.count[name] = k + 1
        new = self.inject(name, k, tensor)
        return None if new is None else rewrap(output, new)

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def _attribute(model, symmetry, x, lie, measure, padding, reference, results) -> dict:
    """Fill ``per_layer``, ``remainder`` and ``attributed`` of each generator's result; returns,
    per generator that could not be attributed, the reason."""
    recorder = Recorder(model, copies=1)
    with torch.no_grad(), recorder:
        model(symmetry.model_input(model, x))
    leaves = _leaves(recorder)
    zeros: list[torch.Tensor] = []
    owners: list[tuple[str, int]] = []

    def add_zero(name, k, tensor):
        zero = torch.zeros_like(tensor, requires_grad=True)
        zeros.append(zero)
        owners.append((name, k))
        return tensor + zero

    with _Hooks(model, leaves, add_zero), torch.enable_grad():
        out = model_output(model(symmetry.model_input(model, x)))
        if measure.kind == "softmax":
            out = torch.softmax(out.reshape(out.shape[0], -1), dim=-1)
    calls: dict[str, list[_LayerLie]] = {}
    for c in leaves:
        # the model's own input and output keep the chosen padding; feature maps inside are
        # continued periodically, so that global pooling is exactly invariant and a border
        # effect is charged to the layer that makes it (zero padding, one-sided crops)
        pad_in = padding if c.in_tokens[0] == recorder.input_token else "circular"
        pad_out = padding if c.out_token == recorder.output_token else "circular"
        calls.setdefault(c.name, []).append(_LayerLie(c, pad_in, pad_out, reference))
    skipped: dict[str, str] = {}
    names, targets, totals = [], [], []
    for g, raw in lie.items():
        u = measure.measured(raw)
        total = measure.norm2(u)
        if not zeros or total <= 1e-12 * max(measure.norm2(measure.out_rows), 1e-300):
            continue  # nothing to attribute: the model is equivariant along this generator
        undefined = next(
            ((name, r) for name, lst in calls.items() for c in lst if (r := c.undefined(g))),
            None,
        )
        if undefined is not None:
            skipped[g] = f"layer {undefined[0]}: {undefined[1]}"
            continue
        names.append(g)
        targets.append(u)
        totals.append(total)
    if not names:
        return skipped
    # every layer call's own Lie derivative, for all generators at once
    own = [calls[name][k](names) if k < len(calls[name]) else None for name, k in owners]
    # shares: <L_X f_i, J_{>i}^T u> for every layer call, one backward pass per generator
    weights = measure.row_weights()
    grads = _vjp_many(
        out,
        zeros,
        [(u * weights.to(u)[:, None]).to(out.dtype).reshape(out.shape) for u in targets],
    )
    for j, (g, total) in enumerate(zip(names, totals, strict=True)):
        shares = results[g].per_layer
        for (name, _), lies, grad in zip(owners, own, grads[j], strict=True):
            if lies is None or grad is None:
                continue
            share = float((lies[g].to(torch.float64) * grad.to(torch.float64)).sum()) / total
            shares[name] = shares.get(name, 0.0) + share
    # the remainder: L_X f - sum_i J_{>i} L_X f_i, the sum from one forward-mode pass that adds
    # every layer's own Lie derivative to its output as a tangent
    pushed = _push(model, symmetry, x, leaves, owners, own, zeros, names)
    for g, u, total, s_g in zip(names, targets, totals, pushed, strict=True):
        raw = lie[g]
        rest = measure.measured(raw if s_g is None else raw - s_g.reshape(raw.shape).to(raw))
        results[g].remainder = (measure.norm2(rest) / total) ** 0.5
        results[g].attributed = 1.0 - measure.inner(rest, u) / total
    return skipped


def _vjp_many(out, inputs, grad_outputs: list[torch.Tensor]) -> list[tuple]:
    """``J^T u`` with respect to ``inputs`` for every ``u`` (batched where autograd can)."""
    if len(grad_outputs) > 1:
        try:
            batched = torch.autograd.grad(
                out,
                inputs,
                grad_outputs=torch.stack(grad_outputs),
                retain_graph=True,
                allow_unused=True,
                is_grads_batched=True,
            )
            return [
                tuple(None if b is None else b[j] for b in batched)
                for j in range(len(grad_outputs))
            ]
        except Exception:  # an op without a batching rule in its backward
            log.debug("batched backward failed; one generator at a time", exc_info=True)
    return [
        torch.autograd.grad(out, inputs, grad_outputs=u, retain_graph=True, allow_unused=True)
        for u in grad_outputs
    ]


def _push(model, symmetry, x, leaves, owners, own, zeros, names) -> list[torch.Tensor | None]:
    """``sum_i J_{>i} L_X f_i`` for every generator: the injection points as the inputs of a
    function, pushed forward with ``jvp`` (batched over the generators with ``vmap``)."""
    import torch.autograd.forward_ad as fwAD

    index = {key: j for j, key in enumerate(owners)}
    primals = tuple(torch.zeros_like(z.detach()) for z in zeros)
    tangents = [
        tuple(
            torch.zeros_like(p) if lies is None else lies[g].to(p)
            for p, lies in zip(primals, own, strict=True)
        )
        for g in names
    ]

    def run(added):
        def inject(name, k, tensor):
            j = index.get((name, k))
            return None if j is None else tensor + added[j]

        with _Hooks(model, leaves, inject):
            return model_output(model(symmetry.model_input(model, x)))

    if len(names) > 1:
        try:
            stacked = tuple(torch.stack(parts) for parts in zip(*tangents, strict=True))
            with torch.no_grad():
                pushed = vmap(lambda t: jvp(run, (primals,), (t,))[1])(stacked)
            return list(pushed.unbind(0))
        except Exception:
            log.debug("batched push failed; one generator at a time", exc_info=True)
    results = []
    for t in tangents:
        with torch.no_grad(), fwAD.dual_level():
            tangent = fwAD.unpack_dual(
                run(tuple(fwAD.make_dual(p, v) for p, v in zip(primals, t, strict=True)))
            ).tangent
        results.append(tangent)  # None: the output does not depend on any layer
    return results


# ------------------------------------------------------------------------- findings
_NONLINEAR_HINTS = ("relu", "elu", "gelu", "silu", "tanh", "sigmoid", "nonlinearity", "gate")


def _category(kind: str) -> str | None:
    low = kind.lower()
    if " stride " in low or ("pool" in low and "adaptive" not in low):
        return "downsampling"
    if any(h in low for h in _NONLINEAR_HINTS):
        return "nonlinearity"
    return None


def lie_findings(result: LieDerivativeResult | None) -> list:
    """One finding naming the layers that contribute most to the Lie derivative (the paper's
    culprits: downsampling and pointwise nonlinearities), when an attribution exists."""
    from .report import Finding

    if result is None:
        return []
    totals: dict[str, float] = {}
    used = []
    for g, res in result.generators.items():
        if not res.per_layer or res.lee <= 1e-4:
            continue
        used.append(g)
        for name, share in res.per_layer.items():
            totals[name] = totals.get(name, 0.0) + max(share, 0.0) / len(result.generators)
    if not totals:
        return []
    ranked = sorted(totals, key=lambda n: -totals[n])
    whole = sum(totals.values()) or 1.0
    top, acc = [], 0.0
    for name in ranked:  # the fewest layers that carry two thirds of the positive shares
        top.append(name)
        acc += totals[name]
        if acc >= 2 / 3 * whole or len(top) == 4:
            break
    kinds = result.layer_kinds
    cats = {_category(kinds.get(n, "")) for n in top} - {None}
    label = ", ".join(f"{n} ({kinds.get(n, '?')})" for n in top)
    fixes = []
    if "downsampling" in cats:
        fixes.append(
            "blur before every strided step (anti-aliased pooling, e.g. escnn's "
            "PointwiseAvgPoolAntialiased2D or a BlurPool), or keep the resolution"
        )
    if "nonlinearity" in cats:
        fixes.append(
            "pointwise nonlinearities alias: a smoother activation (GELU, SiLU), a higher "
            "resolution, or a steerable nonlinearity (escnn norm, gated or Fourier nonlinearities)"
        )
    if not fixes:
        fixes.append(
            "the named layers break the continuous symmetry on their own: check their padding, "
            "strides and kernels, or use an equivariant layer in their place"
        )
    evidence = "; ".join(
        f"{g}: LEE {result.generators[g].lee:.3g}, "
        + ", ".join(
            f"{n} {result.generators[g].per_layer[n]:+.0%}"
            for n in top
            if n in result.generators[g].per_layer
        )
        for g in used
    )
    return [
        Finding(
            kind="lie_attribution",
            title=f"The Lie derivative comes mostly from {label}"
            + (
                f": {' and '.join(sorted(cats))}, as the Lie derivative paper found" if cats else ""
            ),
            location=top[0],
            severity="Low",
            fix="; ".join(fixes),
            evidence=evidence,
        )
    ]


# ------------------------------------------------------------------------- entry points
#: what ``audit(..., lie_derivative={...})`` and the symmetry file's ``lie_derivative:`` take
OPTIONS = ("generators", "padding", "normalization")


def lie_options(value: Any) -> dict:
    """The options of ``audit(lie_derivative=...)``: ``{}`` for True, the dict's entries else."""
    if value is None or isinstance(value, bool):
        return {}
    if not isinstance(value, dict):
        raise AuditError(
            f"lie_derivative: {value!r}; use True/False, or a dict of {', '.join(OPTIONS)}"
        )
    bad = [k for k in value if k not in OPTIONS]
    if bad:
        raise AuditError(f"lie_derivative: {bad[0]!r} is not an option; use {', '.join(OPTIONS)}")
    options = {k: v for k, v in value.items() if v is not None}
    if "generators" in options:
        options["generators"] = list(options["generators"])
    return options


@forward_ad_kernels()  # attention through kernels with forward-mode AD while it runs
def compute_lie_derivative(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: Any,
    generators: list[str] | None,
    *,
    layerwise: bool,
    padding: str = PADDING,
    normalization: str = "relative",
) -> LieDerivativeResult:
    """The Lie derivative of ``model`` (already in audit conditions) at inputs ``x``."""
    from ..symmetry.flows import PADDINGS

    if padding not in PADDINGS:
        raise AuditError(f"padding: {padding!r} unknown; use {', '.join(PADDINGS)}")
    if normalization not in NORMALIZATIONS:
        raise AuditError(
            f"normalization: {normalization!r} unknown; use {', '.join(NORMALIZATIONS)}"
        )
    reference = tuple(x.shape[-2:]) if symmetry.domain == "image2d" else None
    flows = symmetry.flows(padding, reference)
    if not flows:
        raise AuditError(
            f"lie_derivative: the symmetry {symmetry.name!r} has no continuous generators; "
            "images have translate_x, translate_y, rotate, shear and scale, and "
            "Symmetry.custom takes flows="
        )
    names = list(generators or flows)
    unknown = [g for g in names if g not in flows]
    if unknown:
        raise AuditError(
            f"generators: {', '.join(map(repr, unknown))} unknown; use {', '.join(flows)}"
        )
    skipped = {g: flows[g].undefined for g in names if flows[g].undefined}
    names = [g for g in names if g not in skipped]
    notes = [f"{g} not measured: {reason}" for g, reason in skipped.items()]
    out_moves = next(iter(flows.values())).moves_output
    y, lie = _model_lies(model, symmetry, x, {g: flows[g] for g in names})
    if y is None:
        with torch.no_grad():
            y = model_output(model(symmetry.model_input(model, x)))
    ids, n = _sample_ids(symmetry, x, y.shape[0])
    blank = None
    if normalization == "relative" and isinstance(x, torch.Tensor):
        with torch.no_grad():  # f(0): the model's output on a blank input
            blank = model_output(model(symmetry.model_input(model, torch.zeros_like(x[:1]))))
        if blank.shape[1:] != y.shape[1:]:
            blank = None
    measure = _Measure(normalization, y.detach(), ids, n, out_moves, blank)
    if normalization == "relative" and bool(measure.zero.any()):
        notes.append(
            f"{int(measure.zero.sum())} input(s) with an all-zero output: their LEE is absolute"
        )
    results = {}
    for g in names:
        per = measure.lee(lie[g])
        results[g] = LieGeneratorResult(
            generator=g,
            unit=flows[g].unit,
            lee=float(per.mean()),
            spread=float(per.std()) if per.numel() > 1 else 0.0,
            per_input=[float(v) for v in per],
        )
    kinds: dict[str, str] = {}
    if layerwise and symmetry.domain == "image2d" and names:
        try:
            not_attributed = _attribute(
                model, symmetry, x, lie, measure, padding, reference, results
            )
            notes += [f"{g}: no layer-wise attribution: {r}" for g, r in not_attributed.items()]
            modules = dict(model.named_modules())
            kinds = {
                name: layer_kind(modules[name])
                for res in results.values()
                for name in res.per_layer
                if name in modules
            }
        except Exception as exc:  # attribution is best effort: say why it is missing
            log.debug("Lie derivative attribution failed", exc_info=True)
            notes.append(f"layer-wise attribution failed: {type(exc).__name__}: {exc}")
    elif layerwise and names:
        notes.append(
            "no layer-wise attribution: it needs an action of the flow on every intermediate "
            "feature (feature maps of images); point-cloud layers take several moving inputs "
            "(positions, edge vectors, their spherical harmonics) and custom symmetries declare "
            "actions on the model's input and output only"
        )
    if symmetry.domain == "point_cloud":
        notes.append(
            "point clouds: rotations move positions and irreps features (e3nn's so(3) "
            "generators), translations move positions; one value per graph"
        )
    return LieDerivativeResult(
        normalization=f"{NORMALIZATIONS[normalization]}; {_UNITS}",
        normalization_kind=normalization,
        padding=padding,
        n_inputs=n,
        output_action="moved back with the input's flow" if out_moves else "left as is (invariant)",
        generators=results,
        skipped=skipped,
        layer_kinds=kinds,
        notes=notes,
    )


def lie_derivative(
    model: torch.nn.Module,
    symmetry: Symmetry,
    inputs: Any = None,
    generators: list[str] | None = None,
    *,
    layerwise: bool = True,
    padding: str = PADDING,
    normalization: str = "relative",
    seed: int = 0,
    n_inputs: int = 4,
    dtype: torch.dtype | None = None,
) -> LieDerivativeResult:
    """Lie derivative and local equivariance error of ``model`` along each generator.

    Args:
        model: any ``torch.nn.Module`` (eval mode during the computation, restored after).
        symmetry: the symmetry whose continuous generators to use (``Symmetry.images`` has
            ``translate_x``, ``translate_y``, ``rotate``, ``shear``, ``scale``).
        inputs: inputs ``(B, ...)``; random inputs of the symmetry when None.
        generators: which generators (default: all of the symmetry's). A generator with no
            action on the input or output fields (a rotation of C_n regular fields) is skipped,
            with the reason in ``skipped``.
        layerwise: attribute the Lie derivative to layers (images).
        padding: how images are continued beyond their border while resampling:
            ``reflection`` (default, as the paper's code), ``circular`` (models on a torus:
            circular padding everywhere) or ``zeros`` (images on a black background).
        normalization: ``relative`` (default: ``||L_X f(x)|| / ||f(x)||`` per input),
            ``softmax`` (classifiers: mean over classes of ``|L_X softmax(f(x))|``, the paper's
            definition) or ``absolute`` (mean over output entries of ``|L_X f(x)|``).

    Returns:
        A :class:`LieDerivativeResult`: per generator ``lee``, ``spread``, ``per_input``,
        ``per_layer``, ``remainder``.
    """
    if not isinstance(model, torch.nn.Module) or not isinstance(symmetry, Symmetry):
        raise AuditError("lie_derivative takes a torch.nn.Module and an equidesign Symmetry")
    device = model_device(model)
    run_dtype = audit_dtype(model_dtype(model), dtype)
    with audit_conditions(model, run_dtype):
        if inputs is None:
            x = symmetry.example_input(n_inputs, seed=seed, dtype=run_dtype, device=device)
        elif unwrap(inputs) is not None:
            x = unwrap(inputs).to(device=device, dtype=run_dtype)
        else:  # a structured input (a PyG batch)
            x = symmetry.io.to(inputs, device, run_dtype)
        return compute_lie_derivative(
            model,
            symmetry,
            x,
            generators,
            layerwise=layerwise,
            padding=padding,
            normalization=normalization,
        )
