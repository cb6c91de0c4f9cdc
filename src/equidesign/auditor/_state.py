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

__all__ = [
    "all_modules",
    "audit_conditions",
    "restore_modes",
    "snapshot_tensors",
    "convert_floating",
    "model_dtype",
]


def all_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``named_modules()`` without its duplicate filter: escnn's basis modules hash slowly."""
    return list(model.named_modules(remove_duplicate=False))


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


def restore_modes(model: torch.nn.Module, modes: dict[str, bool]) -> None:
    """Restore each module's training flag through ``train()`` (libraries refresh caches there)."""
    named = all_modules(model)
    root = modes.get("", model.training)
    model.train(root)
    for name, module in named:  # parents come before children
        want = modes.get(name)
        if want is not None and module.training != want:
            module.train(want)


@contextlib.contextmanager
def snapshot_tensors(module: torch.nn.Module) -> Iterator[None]:
    """Restore every parameter's and buffer's values (and dtype) on exit."""
    saved = []
    for _, m in all_modules(module):
        for store in (m._parameters, m._buffers):
            for name, t in store.items():
                if t is not None:
                    saved.append((store, name, t, t.detach().clone()))
    try:
        yield
    finally:
        with torch.no_grad():
            for store, name, original, copy in saved:
                current = store.get(name)
                if current is not original:
                    store[name] = original
                if original.dtype != copy.dtype:
                    original.data = copy
                else:
                    original.copy_(copy)


def convert_floating(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Convert floating parameters and buffers in place (restored by :func:`snapshot_tensors`)."""
    for _, m in all_modules(model):
        for store in (m._parameters, m._buffers):
            for t in store.values():
                if t is not None and t.is_floating_point() and t.dtype != dtype:
                    t.data = t.data.to(dtype)


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
    try:
        with contextlib.ExitStack() as stack:
            if convert:
                stack.enter_context(snapshot_tensors(model))
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.set_float32_matmul_precision("highest")
            stack.enter_context(torch.autocast("cpu", enabled=False))
            if torch.cuda.is_available():
                stack.enter_context(torch.autocast("cuda", enabled=False))
            if convert:
                convert_floating(model, dtype)
            model.eval()
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
        # after tensors are restored: caches (escnn filters, eLinear weights) refresh in train()
        model.train()
        restore_modes(model, modes)
