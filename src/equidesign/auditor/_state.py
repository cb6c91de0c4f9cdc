"""Putting a model into audit conditions and back.

During an audit: eval mode, TF32 and autocast off, the requested dtype. Afterwards: every
module's previous train/eval mode, every parameter's and buffer's dtype and values, and the global
RNG states are restored, so an audit leaves no trace on the model or the random stream.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from ._autograd import differentiable_model_grads

__all__ = [
    "all_modules",
    "refresh_caches",
    "set_mode",
    "set_all_modes",
    "audit_conditions",
    "restore_modes",
    "snapshot_tensors",
    "convert_floating",
    "model_dtype",
]


def all_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``named_modules()``, same names and order, but with an identity memo.

    torch's own walk keeps a set of modules, which hashes them, and escnn's basis modules hash
    their whole kernel basis: on an escnn CNN that walk costs more than a forward pass.
    """
    out: list[tuple[str, torch.nn.Module]] = []
    seen: set[int] = set()
    stack = [("", model)]
    while stack:
        prefix, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        out.append((prefix, module))
        children = [(n, c) for n, c in module._modules.items() if c is not None]
        for name, child in reversed(children):
            stack.append((f"{prefix}.{name}" if prefix else name, child))
    return out


def _tensors(model: torch.nn.Module):
    for _, m in all_modules(model):
        for t in list(m._parameters.values()) + list(m._buffers.values()):
            if t is not None:
                yield t


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of the model's first floating parameter or buffer (float32 if none)."""
    for t in _tensors(model):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def model_device(model: torch.nn.Module) -> torch.device:
    for t in _tensors(model):
        return t.device
    return torch.device("cpu")


def _no_children():
    return iter(())


def set_mode(module: torch.nn.Module, mode: bool) -> None:
    """``module.train(mode)`` on this module alone (its children keep their modes).

    Libraries refresh caches in ``train()`` (escnn expands its filters on ``eval()``), so the
    call goes through ``train``; torch's recursion into ``children()`` is cut for the call (it
    walks modules through a hashing memo, which is slow on escnn's basis modules).
    """
    if module.training == mode:
        return  # escnn rebuilds its filters on every eval() call: skip needless calls
    module.__dict__["children"] = _no_children
    try:
        module.train(mode)
    finally:
        del module.__dict__["children"]


def restore_modes(model: torch.nn.Module, modes: dict[str, bool]) -> None:
    """Give each module its saved training flag, touching only the modules that differ."""
    for name, module in all_modules(model):
        want = modes.get(name)
        if want is not None and module.training != want:
            set_mode(module, want)


@contextlib.contextmanager
def snapshot_tensors(
    module: torch.nn.Module, *, only: list[torch.nn.Module] | None = None, buffers_only=False
) -> Iterator[None]:
    """Restore parameters' and buffers' values (and dtypes) on exit.

    ``only``: these modules' own tensors instead of the whole tree; ``buffers_only``: leave
    parameters out (a train-mode forward changes running statistics, not weights).
    """
    saved = []
    copies: dict[int, torch.Tensor] = {}  # one copy per tensor: modules can share tensors
    modules = only if only is not None else [m for _, m in all_modules(module)]
    for m in modules:
        stores = (m._buffers,) if buffers_only else (m._parameters, m._buffers)
        for store in stores:
            for name, t in store.items():
                if t is not None:
                    if id(t) not in copies:
                        copies[id(t)] = t.detach().clone()
                    saved.append((store, name, t, copies[id(t)]))
    # dtypes kept as module attributes (nequip's model_dtype / _output_dtype, which its forward
    # casts to): convert_floating changes them with the tensors
    dtypes = [
        (m, key, value)
        for m in modules
        for key, value in vars(m).items()
        if isinstance(value, torch.dtype) and value.is_floating_point
    ]
    try:
        yield
    finally:
        for m, key, value in dtypes:
            setattr(m, key, value)
        with torch.no_grad():
            for store, name, original, copy in saved:
                current = store.get(name)
                if current is not original:
                    store[name] = original
                if original.dtype != copy.dtype or original.shape != copy.shape:
                    original.data = copy
                elif not torch.equal(original, copy):
                    try:
                        original.copy_(copy)
                    except RuntimeError:  # overlapping memory (an expanded view): rebind
                        original.data = copy


def convert_floating(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Convert floating parameters and buffers in place (restored by :func:`snapshot_tensors`)."""
    for _, m in all_modules(model):
        for store in (m._parameters, m._buffers):
            for t in store.values():
                if t is not None and t.is_floating_point() and t.dtype != dtype:
                    t.data = t.data.to(dtype)
        # a dtype the module casts its values to (nequip's model_dtype, _output_dtype): the
        # audit dtype now (float64 for the re-runs), restored with the tensors
        for key, value in list(vars(m).items()):
            if isinstance(value, torch.dtype) and value.is_floating_point and value != dtype:
                setattr(m, key, dtype)
    sync_representation_caches(model, dtype)


def sync_representation_caches(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Convert tensors that libraries cache on representation objects.

    symm-learning caches change-of-basis tensors in ``rep.attributes`` with the dtype of their
    first use and never converts them, so a model audited in float64 (or used in float32 after)
    would fail in its batch statistics.
    """
    for _, m in all_modules(model):
        for attr in ("in_rep", "out_rep", "_rep_x", "rep"):
            try:
                rep = m.__dict__.get(attr)
            except Exception:  # pragma: no cover - defensive
                rep = None
            cache = getattr(rep, "attributes", None)
            if not isinstance(cache, dict):
                continue
            for key, value in list(cache.items()):
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    cache[key] = value.to(dtype)


@contextlib.contextmanager
def audit_conditions(model: torch.nn.Module, dtype: torch.dtype | None) -> Iterator[None]:
    """Eval mode, no TF32, no autocast, the audit dtype; everything restored afterwards."""
    modes = {name: m.training for name, m in all_modules(model)}
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    np_rng = np.random.get_state()
    py_rng = random.getstate()
    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    precision = torch.get_float32_matmul_precision()
    grad_enabled = torch.is_grad_enabled()
    convert = dtype is not None and dtype != model_dtype(model)
    was_training = any(modes.values())
    try:
        with contextlib.ExitStack() as stack:
            if convert:
                stack.enter_context(snapshot_tensors(model))
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.set_float32_matmul_precision("highest")
            stack.enter_context(torch.autocast("cpu", enabled=False))
            # force fields' own autograd.grad keeps its graph: their outputs stay differentiable
            stack.enter_context(differentiable_model_grads())
            if torch.cuda.is_available():
                stack.enter_context(torch.autocast("cuda", enabled=False))
            if convert:
                convert_floating(model, dtype)
                refresh_caches(model)
                stack.callback(remove_hooks, cast_outputs(model, dtype))
            elif was_training:
                set_all_modes(model, False)
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision(precision)
        torch.set_grad_enabled(grad_enabled)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        np.random.set_state(np_rng)
        random.setstate(py_rng)
        if convert:  # tensors are restored: rebuild caches (escnn filters, eLinear weights)
            sync_representation_caches(model, model_dtype(model))
            refresh_caches(model)
        restore_modes(model, modes)


def cast_outputs(model: torch.nn.Module, dtype: torch.dtype) -> list:
    """Forward hooks that cast floating module outputs to ``dtype`` (escnn's GroupPooling
    returns float32 whatever its input), so a converted model runs in one dtype."""
    from ._tensors import rewrap, unwrap

    def hook(module, args, output):
        tensor = unwrap(output)
        if tensor is not None and tensor.is_floating_point() and tensor.dtype != dtype:
            return rewrap(output, tensor.to(dtype))
        return None

    return [m.register_forward_hook(hook) for _, m in all_modules(model)]


def remove_hooks(handles: list) -> None:
    for h in handles:
        h.remove()


def set_all_modes(model: torch.nn.Module, mode: bool) -> None:
    """``model.train(mode)`` without torch's module walk (see :func:`all_modules`)."""
    for _, module in all_modules(model):
        set_mode(module, mode)


def refresh_caches(model: torch.nn.Module) -> None:
    """Leave the model in eval mode with eval-mode caches rebuilt from the current tensors."""
    set_all_modes(model, True)
    set_all_modes(model, False)  # every module goes through train(False) once
