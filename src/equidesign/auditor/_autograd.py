"""Models that differentiate inside ``forward`` (force fields: MACE, NequIP, SchNet's forces).

A force field returns ``-dE/dpos`` from ``torch.autograd.grad`` called in its own ``forward``,
usually with ``create_graph=self.training``: in eval mode the graph of the energy is freed by that
call and the forces are constants. The audit then cannot differentiate the model's outputs (the
gradient test, the force test, the Lie derivative by double backward) and its own backward raises
"Trying to backward through the graph a second time" or "element 0 of tensors does not require
grad", which blames the model for the auditor's pass.

While the audit runs, :func:`differentiable_model_grads` makes every ``torch.autograd.grad`` that
the *model's* code calls keep its graph (``create_graph=True``): the values are the same, and the
outputs stay differentiable. Calls from the auditor and from torch itself are left as they are.
"""

from __future__ import annotations

import contextlib
import sys
import weakref
from collections.abc import Iterator

import torch

__all__ = [
    "differentiable_model_grads",
    "forward_ad_kernels",
    "plain_model_grads",
    "with_model_grads",
]

_ORIGINAL = torch.autograd.grad
_CALLS = {"attempts": 0}  # calls of torch.autograd.grad from a model's code
_ACTIVE = {"depth": 0, "plain": 0}
_OWN = ("equidesign.", "torch.")


#: models seen to call torch.autograd.grad in their forward (they need autograd on to run)
_NEEDS_GRAPH: weakref.WeakSet = weakref.WeakSet()


def with_model_grads(model: torch.nn.Module, fn, *args):
    """``fn(*args)`` for ``model``, run with autograd on where the model needs it: one that calls
    ``torch.autograd.grad`` in its forward (a force field audited without input gradients)
    fails with autograd off; it is run again with it on, and remembered."""
    if not torch.is_grad_enabled() and model in _NEEDS_GRAPH:
        with torch.enable_grad():
            out = fn(*args)
        return out.detach() if isinstance(out, torch.Tensor) else out
    before = _CALLS["attempts"]
    try:
        return fn(*args)
    except RuntimeError:
        if torch.is_grad_enabled() or _CALLS["attempts"] == before:
            raise
    _NEEDS_GRAPH.add(model)
    return with_model_grads(model, fn, *args)


def _grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    *args,
    **kwargs,
):
    caller = sys._getframe(1).f_globals.get("__name__", "") or ""
    if not caller.startswith(_OWN):
        _CALLS["attempts"] += 1
        if torch.is_grad_enabled() and not _ACTIVE["plain"]:
            create_graph, retain_graph = True, True
    return _ORIGINAL(outputs, inputs, grad_outputs, retain_graph, create_graph, *args, **kwargs)


#: modules already scanned for names bound to torch.autograd.grad, and what was found
_SCANNED: set[str] = set()
_FOUND: list[tuple[str, str]] = []
_SEEN = {"count": -1}  # len(sys.modules) at the last scan: no new module, nothing to scan


def _bound_names() -> list[tuple[dict, str]]:
    """Module globals bound to ``torch.autograd.grad`` by ``from torch.autograd import grad``
    (PyG's ViSNet, user code), outside torch and equidesign. Each module is scanned once (the
    first audit after it is imported); the names found are checked again every time."""
    modules = list(sys.modules.items()) if len(sys.modules) != _SEEN["count"] else []
    _SEEN["count"] = len(sys.modules)
    for name, module in modules:
        if name in _SCANNED:
            continue
        _SCANNED.add(name)
        if module is None or name.startswith(_OWN) or name in ("torch", "equidesign"):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        _FOUND.extend((name, key) for key, value in list(namespace.items()) if value is _ORIGINAL)
    found = []
    for name, key in _FOUND:
        namespace = getattr(sys.modules.get(name), "__dict__", None)
        if isinstance(namespace, dict) and namespace.get(key) is _ORIGINAL:
            found.append((namespace, key))
    return found


@contextlib.contextmanager
def plain_model_grads() -> Iterator[None]:
    """Within the block, the model's own ``torch.autograd.grad`` runs as the model asks: for
    passes whose outputs the audit does not differentiate (a second-order graph costs about
    twice the backward)."""
    _ACTIVE["plain"] += 1
    try:
        yield
    finally:
        _ACTIVE["plain"] -= 1


@contextlib.contextmanager
def differentiable_model_grads() -> Iterator[None]:
    """Within the block, ``torch.autograd.grad`` called by a model keeps its graph (whether the
    model calls it as ``torch.autograd.grad`` or imported it by name)."""
    bound: list[tuple[dict, str]] = []
    if _ACTIVE["depth"] == 0:
        torch.autograd.grad = _grad
        bound = _bound_names()
        for namespace, key in bound:
            namespace[key] = _grad
    _ACTIVE["depth"] += 1
    try:
        yield
    finally:
        _ACTIVE["depth"] -= 1
        if _ACTIVE["depth"] == 0:
            torch.autograd.grad = _ORIGINAL
            for namespace, key in bound:
                if namespace.get(key) is _grad:
                    namespace[key] = _ORIGINAL


@contextlib.contextmanager
def forward_ad_kernels() -> Iterator[None]:
    """Attention through kernels that have forward-mode AD, for the Lie derivative's jvps.

    ``F.scaled_dot_product_attention`` dispatches to fused kernels (flash, memory-efficient)
    without forward-mode AD, and ``nn.MultiheadAttention`` in eval mode to its native fast path
    (``_native_multi_head_attention``), which has none either. Within the block, SDPA takes its
    math kernel (the same attention, composed of differentiable operations) and the fast path is
    off; both settings are restored after.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    mha = getattr(torch.backends, "mha", None)
    fastpath = mha.get_fastpath_enabled() if mha is not None else None
    try:
        if mha is not None:
            mha.set_fastpath_enabled(False)
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        if mha is not None:
            mha.set_fastpath_enabled(fastpath)
