r"""The Lie derivative and the local equivariance error (Gruver et al., ICLR 2023).

For a generator :math:`X` with flow :math:`T_t`, the Lie derivative of a model is

.. math::
    L_X f(x) = \frac{d}{dt}\Big|_{t=0} T_{-t}\, f(T_t\, x),

computed with forward-mode autodiff (``torch.func.jvp``), not finite differences. The output is
transformed back when it lives on the input's grid, and left as is when it is invariant.

**LEE.** Per input, :math:`\lVert L_X f(x)\rVert`; the report gives its mean and standard
deviation over the inputs divided by the spread of the outputs over those inputs,
:math:`\sigma = (\operatorname{mean}_x \lVert f(x) - \bar f\rVert^2)^{1/2}`, so models with
different output scales compare.

**Attribution.** By the chain rule, :math:`L_X f = \sum_i J_{>i}\, L_X f_i(h_{i-1})`: each
layer's own Lie derivative at the input it received, pushed to the output by the Jacobian of the
rest of the network. Layer :math:`i`'s share is
:math:`\langle J_{>i} L_X f_i, L_X f\rangle / \lVert L_X f\rVert^2`, computed for all layers at
once as :math:`\langle L_X f_i, J_{>i}^\top L_X f\rangle` with one backward pass. The shares add
up to one only when the layers compose the whole model; what they miss (functional operations,
residual additions, layers that could not be attributed) is reported as the remainder.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch.func import jvp

from ..errors import AuditError
from ..symmetry import Symmetry
from ._graph import Call, Recorder, declared_actions
from ._state import audit_conditions, model_device, model_dtype
from ._tensors import model_output, rewrap, unwrap
from .layerwise import is_container, is_library_module
from .levels import audit_dtype
from .report import LieDerivativeResult, LieGeneratorResult

log = logging.getLogger(__name__)

__all__ = ["lie_derivative", "compute_lie_derivative"]

NORMALIZATION = (
    "LEE = mean over inputs of ||L_X f(x)|| / sigma, sigma = RMS over inputs of ||f(x) - mean f|| "
    "(spread = standard deviation of ||L_X f(x)|| / sigma); t in radians for rotations, pixels "
    "for image translations (the positions' unit on point clouds), unit shear and log-scale"
)


def _jvp(fn, primal: torch.Tensor, tangent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():  # forward mode only: no graph for the parameters
        return jvp(fn, (primal,), (tangent,))


def _model_lie(model, symmetry, x, flow) -> torch.Tensor:
    """L_X f(x) = J_f(x) v_in(x) - v_out(f(x))."""
    velocity = flow.velocity_in(x)
    if isinstance(velocity, dict):  # several input tensors move (point clouds: pos, x)
        y, jy = _jvp_attributes(model, symmetry, x, velocity)
    else:

        def f(inp):
            return model_output(model(symmetry.model_input(model, inp)))

        y, jy = _jvp(f, x, velocity)
    return jy - flow.velocity_out(y) if flow.moves_output else jy


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


def _spatial(t: torch.Tensor) -> bool:
    return t.dim() >= 3 and min(t.shape[-2:]) >= 2


class _LayerLie:
    """One layer call's own Lie derivative, for every generator: the central differences of its
    input and output are taken once and combined per generator."""

    def __init__(self, call: Call, padding: str, reference):
        from ..symmetry.flows import image_gradients

        self.call = call
        self.h = call.args[0]
        self.ht = unwrap(self.h)
        self.reference = reference
        self.ok = self.ht.is_floating_point()
        self.in_grads = image_gradients(self.ht, padding) if self.ok and _spatial(self.ht) else None
        y = unwrap(call.output)
        self.out_grads = image_gradients(y, padding) if y is not None and _spatial(y) else None

    def __call__(self, name: str) -> torch.Tensor | None:
        from ..symmetry.flows import velocity_from_gradients

        if not self.ok:
            return None
        if self.in_grads is None:
            v_in = torch.zeros_like(self.ht)
        else:
            v_in = velocity_from_gradients(name, self.in_grads, self.reference)
        h = self.h

        def f(inp):
            return unwrap(self.call.module(rewrap(h, inp)))

        _, jy = _jvp(f, self.ht, v_in)
        if self.out_grads is None:
            return jy
        return jy - velocity_from_gradients(name, self.out_grads, self.reference)


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
        and c.output is not None
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


class _Injector:
    """Adds a zero tensor that requires grad to each leaf's output: the gradient of
    <f(x), u> with respect to it is J_{>i}^T u for every leaf at once."""

    def __init__(self, model, leaves: list[Call]):
        self.model = model
        self.targets = {id(c.module): c.name for c in leaves}
        self.zeros: dict[str, list[torch.Tensor]] = {}
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
        zero = torch.zeros_like(tensor, requires_grad=True)
        self.zeros.setdefault(self.targets[id(module)], []).append(zero)
        return rewrap(output, tensor + zero)

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def compute_lie_derivative(
    model: torch.nn.Module,
    symmetry: Symmetry,
    x: torch.Tensor,
    generators: list[str] | None,
    *,
    layerwise: bool,
    padding: str,
) -> LieDerivativeResult:
    """The Lie derivative of ``model`` (already in audit conditions) at inputs ``x``."""
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
    with torch.no_grad():
        y = model_output(model(symmetry.model_input(model, x)))
    flat = y.reshape(y.shape[0], -1).to(torch.float64)
    sigma = float((flat - flat.mean(0)).pow(2).sum(1).mean().sqrt()) if y.shape[0] > 1 else 0.0
    notes = []
    if sigma <= 1e-12:
        sigma = float(flat.pow(2).sum(1).mean().sqrt()) or 1.0
        notes.append("one input (or constant outputs): normalised by the RMS output norm")
    out_moves = next(iter(flows.values())).moves_output
    lie = {g: _model_lie(model, symmetry, x, flows[g]).detach() for g in names}
    shares: dict[str, dict[str, float]] = {g: {} for g in names}
    remainders: dict[str, float | None] = dict.fromkeys(names)
    if layerwise and symmetry.domain == "image2d":
        try:
            _attribute(model, symmetry, x, lie, padding, reference, shares, remainders)
        except Exception as exc:  # attribution is best effort: say why it is missing
            log.debug("Lie derivative attribution failed", exc_info=True)
            notes.append(f"layer-wise attribution failed: {type(exc).__name__}: {exc}")
    elif layerwise:
        notes.append("layer-wise attribution needs image flows on feature maps")
    if symmetry.domain == "point_cloud":
        notes.append(
            "point clouds: rotations move positions and irreps features (e3nn's so(3) "
            "generators), translations move positions; per row of the output (graph or node)"
        )
    results = {}
    for g in names:
        norms = lie[g].reshape(lie[g].shape[0], -1).to(torch.float64).norm(dim=1) / sigma
        results[g] = LieGeneratorResult(
            generator=g,
            unit=flows[g].unit,
            lee=float(norms.mean()),
            spread=float(norms.std()) if norms.numel() > 1 else 0.0,
            per_input=[float(v) for v in norms],
            per_layer=shares[g],
            remainder=remainders[g],
        )
    if symmetry.domain == "image2d":
        notes.append(
            "features move spatially only; escnn fibers are held fixed, so inside a group CNN the "
            "attribution measures spatial aliasing"
        )
    return LieDerivativeResult(
        normalization=NORMALIZATION,
        padding=padding,
        n_inputs=symmetry.io.samples(x),
        output_action="moved back with the input's flow" if out_moves else "left as is (invariant)",
        generators=results,
        notes=notes,
    )


def _attribute(model, symmetry, x, lie, padding, reference, shares, remainders) -> None:
    recorder = Recorder(model, copies=1)
    with torch.no_grad(), recorder:
        model(symmetry.model_input(model, x))
    leaves = _leaves(recorder)
    with _Injector(model, leaves) as inj, torch.enable_grad():
        out = model_output(model(symmetry.model_input(model, x)))
    order = [c.name for c in leaves]
    zeros = [z for name in order for z in inj.zeros.get(name, [])]
    owners = [name for name in order for _ in inj.zeros.get(name, [])]
    calls_by_name: dict[str, list[_LayerLie]] = {}
    for c in leaves:
        calls_by_name.setdefault(c.name, []).append(_LayerLie(c, padding, reference))
    for g, u in lie.items():
        total = float((u.to(torch.float64) ** 2).sum())
        scale = float((out.detach().to(torch.float64) ** 2).sum())
        if not zeros or total <= 1e-10 * max(scale, 1e-30):
            continue  # nothing to attribute: the model is equivariant along this generator
        grads = torch.autograd.grad(
            out, zeros, grad_outputs=u.to(out.dtype), retain_graph=True, allow_unused=True
        )
        seen: dict[str, int] = {}
        for name, grad in zip(owners, grads, strict=True):
            k = seen.get(name, 0)
            seen[name] = k + 1
            if grad is None:
                continue
            v = calls_by_name[name][k](g)
            if v is None:
                continue
            share = float((v * grad.to(v.dtype)).sum()) / total
            shares[g][name] = shares[g].get(name, 0.0) + share
        remainders[g] = 1.0 - sum(shares[g].values())


def lie_derivative(
    model: torch.nn.Module,
    symmetry: Symmetry,
    inputs: Any = None,
    generators: list[str] | None = None,
    *,
    layerwise: bool = True,
    padding: str = "circular",
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
        generators: which generators (default: all of the symmetry's).
        layerwise: attribute the Lie derivative to layers.
        padding: how images are continued beyond their border while resampling:
            ``circular``, ``reflection`` or ``zeros``.

    Returns:
        A :class:`LieDerivativeResult`: per generator ``lee``, ``spread``, ``per_layer``,
        ``remainder``.
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
            model, symmetry, x, generators, layerwise=layerwise, padding=padding
        )
