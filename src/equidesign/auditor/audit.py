"""``equidesign.audit``: measure whether a torch model respects its symmetry, and say why not."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import torch

from .. import __version__
from ..errors import AuditError, EquidesignError, UserCodeError
from ..symmetry import Symmetry
from ..symmetry.io import TensorIO
from ._state import (
    audit_conditions,
    cast_outputs,
    convert_floating,
    model_device,
    model_dtype,
    refresh_caches,
    remove_hooks,
    snapshot_tensors,
    sync_representation_caches,
)
from ._tensors import copies_per_pass, is_geometric, relative_errors, unwrap
from .batchcheck import alone_output, check_batch
from .diagnosis import diagnose
from .endtoend import rerun_float64, run_end_to_end
from .gradient import run_forces, run_gradient, train_mode_sensitivity
from .layerwise import LayerTest, gradient_error, recheck_float64, run_layerwise
from .levels import Level, audit_dtype, passes
from .lie import compute_lie_derivative, lie_findings, lie_options
from .report import AuditReport, AuditSettings, Float64Rerun, SelfCheck
from .selfcheck import run_self_checks

log = logging.getLogger(__name__)

__all__ = ["audit"]


PHASES = ("end to end", "layer by layer", "gradients", "Lie derivative", "diagnosis")


@contextmanager
def _timed(timings: dict[str, float], key: str, progress=None, phase: str | None = None):
    if progress is not None and phase is not None:
        progress(phase)
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start


def _check_arguments(model: Any, symmetry: Any) -> None:
    if not isinstance(model, torch.nn.Module):
        raise AuditError(
            f"model: expected a torch.nn.Module, got {type(model).__name__}; pass the model "
            "object (call your factory first)"
        )
    if not isinstance(symmetry, Symmetry):
        raise AuditError(
            f"symmetry: expected an equidesign Symmetry, got {type(symmetry).__name__}; build one "
            "with Symmetry.images(...), Symmetry.vectors(...) or Symmetry.custom(...)"
        )


def _declared_input(model: torch.nn.Module) -> tuple[str, int] | None:
    """The representation the model declares on its input, as (description, size): its own
    ``in_type``/``in_rep``, or for a sequence, that of its first layer."""
    from .layerwise import is_container

    module = model
    while is_container(module) and len(module._modules) > 0:
        first = next(iter(module._modules.values()))
        if getattr(module, "in_type", None) is not None or first is None:
            break
        module = first
    for attr in ("in_type", "in_rep"):
        declared = getattr(module, attr, None)
        size = getattr(declared, "size", None)
        if isinstance(size, int) and not isinstance(declared, str):
            return f"{type(module).__name__}.{attr} {declared}", size
    return None


def _check_declared_input(model: torch.nn.Module, symmetry: Symmetry) -> None:
    """Random inputs are made for the symmetry's input type: it must be the model's."""
    size = getattr(symmetry.in_action, "size", None)
    declared = _declared_input(model)
    if declared is None or not isinstance(size, int) or declared[1] == size:
        return
    what, channels = declared
    raise AuditError(
        f"symmetry: its input type has {size} channels but the model declares {what} with "
        f"{channels}; build the symmetry with that input type (in_type=model.in_type, or the "
        "representation's name), or pass inputs="
    )


def _prepare_inputs(inputs, symmetry, n_inputs, seed, dtype, device, model) -> Any:
    if inputs is None:
        _check_declared_input(model, symmetry)
        x = symmetry.example_input(n_inputs, seed=seed, dtype=dtype, device=device)
    elif is_geometric(inputs):
        x = unwrap(inputs)
    else:
        x = inputs
    if isinstance(symmetry.io, TensorIO) and not isinstance(x, torch.Tensor):
        raise AuditError(
            f"inputs: expected a tensor or GeometricTensor, got {type(inputs).__name__}"
        )
    x = symmetry.io.to(x, device, dtype)
    symmetry.in_action.check(symmetry.io.primary(x))
    return x.detach() if isinstance(x, torch.Tensor) else x


def _call_model(fn, what: str):
    try:
        return fn()
    except EquidesignError:
        raise
    except Exception as exc:
        from .._targets import _user_traceback

        raise UserCodeError(
            f"{what}: the model raised {type(exc).__name__}: {exc}", _user_traceback(exc)
        ) from exc


@contextmanager
def _float64(model: torch.nn.Module):
    with snapshot_tensors(model):
        convert_floating(model, torch.float64)
        refresh_caches(model)  # eval-mode caches in float64
        hooks = cast_outputs(model, torch.float64)
        try:
            yield
        finally:
            remove_hooks(hooks)
    sync_representation_caches(model, model_dtype(model))
    refresh_caches(model)


def audit(
    model: torch.nn.Module,
    symmetry: Symmetry,
    inputs: Any = None,
    *,
    seed: int = 0,
    layerwise: bool = True,
    gradients: bool = True,
    lie_derivative: bool | dict | None = None,
    dtype: torch.dtype | None = None,
    n_inputs: int = 4,
    chunk: int | None = None,
    name: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Audit ``model`` for the symmetry described by ``symmetry``.

    Args:
        model: any ``torch.nn.Module``; it is put in eval mode for the audit and restored after.
        symmetry: how the group acts on the model's inputs and outputs.
        inputs: example inputs ``(B, ...)``; random inputs of the right shape when None.
        seed: seeds the inputs, sampled elements and probes (the report records it).
        layerwise: test every layer alone on the input it received.
        gradients: test input gradients (eval mode, and train mode where it differs), and the
            forces ``-dE/dpos`` of an energy model (``Symmetry.point_clouds(forces=True)``).
        lie_derivative: also compute the Lie derivative along the symmetry's continuous
            generators (default: for continuous groups); see :func:`equidesign.lie_derivative`.
            A dict turns it on with options: ``generators``, ``padding``, ``normalization``.
        dtype: the dtype to audit in (default: the model's; half precision runs in float32).
        n_inputs: how many random inputs when ``inputs`` is None.
        chunk: at most this many samples per forward pass (all at once by default; halved
            automatically on out-of-memory errors).
        name: the model's name in the report (default: its class name).
        progress: called with the name of each phase as it starts (for progress bars).

    Returns:
        An :class:`AuditReport`; ``report.verdict`` is ``"PASS"``, ``"FAIL"`` or
        ``"NEEDS_ATTENTION"``.
    """
    _check_arguments(model, symmetry)
    lie_kwargs = lie_options(lie_derivative)
    if isinstance(lie_derivative, dict):
        lie_derivative = True
    # the attribution's finding is information: shown when asked for, or when something fails
    lie_requested = lie_derivative is not None and lie_derivative is not False
    if lie_derivative is None:  # continuous groups: the Lie derivative by default
        lie_derivative = symmetry.is_continuous and bool(symmetry.flows())
    timings: dict[str, float] = {}
    device = model_device(model)
    run_dtype = audit_dtype(model_dtype(model), dtype)
    with audit_conditions(model, run_dtype), _timed(timings, "total"):
        x = _prepare_inputs(inputs, symmetry, n_inputs, seed, run_dtype, device, model)
        symmetry.observe(x)
        element_set = symmetry.elements(seed)
        elements = element_set.elements
        # an invariant energy: the gradient test's loss is the sum of the energies, so that the
        # same backward pass gives the forces -dE/dpos for the force test
        energy = gradients and symmetry.forces and symmetry.out_action.is_trivial
        with _timed(timings, "end_to_end", progress, "end to end"):

            def end_to_end(chunk_size):
                return _call_model(
                    lambda: run_end_to_end(
                        model,
                        symmetry,
                        x,
                        elements,
                        record=layerwise,
                        chunk=chunk_size,
                        input_grad=gradients,
                        energy=energy,
                    ),
                    "end-to-end test",
                )

            e2e, batch = _end_to_end_and_batch(model, symmetry, x, elements, chunk, end_to_end)
        # passes of the whole model: one copy at a time when the batch changes its outputs (the
        # layer tests keep chunk: their rows are not the model's samples)
        passes_chunk = (
            max(symmetry.io.samples(x), 1) if batch is not None and not batch.passed else chunk
        )
        result = e2e.result
        checks = run_self_checks(symmetry, x, e2e.y, elements, result.identity_error, seed)
        if batch is not None:
            checks.checks.append(
                SelfCheck(name="batch", passed=batch.passed, detail=batch.detail())
            )
        if (
            not result.passed
            and run_dtype == torch.float32
            and symmetry.io.primary(x).is_floating_point()
        ):
            with _timed(timings, "float64"):
                result.float64 = _rerun_in_float64(model, symmetry, x, elements, passes_chunk)
        tests: list[LayerTest] = []
        untested = []
        if layerwise and e2e.recorder is not None:
            with _timed(timings, "layerwise", progress, "layer by layer"):
                tests, untested = run_layerwise(
                    e2e.recorder,
                    symmetry.escnn_group,
                    symmetry.in_action,
                    symmetry.out_action,
                    elements,
                    seed=seed,
                    chunk=chunk,
                    relabel=symmetry.relabel,
                    default_action=symmetry.default_action,
                )
        if run_dtype == torch.float32:
            for t in tests:
                if not t.result.passed:
                    try:
                        recheck_float64(t, elements)
                    except Exception as exc:  # a layer that cannot run in float64
                        log.debug("float64 recheck of %s failed", t.name, exc_info=True)
                        t.result.note = (
                            f"the float64 re-check could not run ({type(exc).__name__}: {exc}); "
                            "round-off is not ruled out"
                        )
        gradient = None
        if gradients and checks.orthogonal and not checks.constant_output:
            with _timed(timings, "gradient", progress, "gradients"):
                gradient = _call_model(
                    lambda: run_gradient(
                        model, symmetry, x, elements, e2e.input_grad, passes_chunk
                    ),
                    "gradient test",
                )
                if gradient is not None and energy:
                    gradient.loss = "the sum of the energies (invariant)"
            if gradient is not None and not gradient.passed and run_dtype == torch.float32:
                with _timed(timings, "float64"):
                    _gradient_in_float64(model, symmetry, x, elements, gradient, passes_chunk)
            if gradient is not None and not gradient.passed and isinstance(x, torch.Tensor):
                with _timed(timings, "gradient"):
                    _gradient_at_generic_point(
                        model, symmetry, x, elements, gradient, seed, passes_chunk
                    )
            if gradient is not None and not gradient.passed:
                with _timed(timings, "gradient"):
                    _train_mode_conditioning(model, symmetry, x, elements, gradient, seed)
            if gradient is not None and not gradient.passed and tests:
                with _timed(timings, "gradient_layers"):
                    _layer_gradients(tests, elements, seed, chunk)
        forces = None
        if symmetry.forces and gradients:
            with _timed(timings, "forces", progress, "gradients"):
                forces = _call_model(
                    lambda: run_forces(model, symmetry, x, elements, e2e.forces, passes_chunk),
                    "force test",
                )
            if forces is not None and not forces.passed and run_dtype == torch.float32:
                with _timed(timings, "float64"):
                    _forces_in_float64(model, symmetry, x, elements, forces, passes_chunk)
        lee = None
        if lie_derivative:
            with _timed(timings, "lie_derivative", progress, "Lie derivative"):
                lee = _call_model(
                    lambda: compute_lie_derivative(
                        model,
                        symmetry,
                        x,
                        lie_kwargs.pop("generators", None),
                        layerwise=layerwise,
                        **lie_kwargs,
                    ),
                    "Lie derivative",
                )
        if progress is not None:
            progress("diagnosis")
        diagnosis = diagnose(
            forces=forces,
            e2e=e2e,
            result=result,
            symmetry=symmetry,
            tests=tests,
            untested_names=[u.name for u in untested],
            gradient=gradient,
            self_checks=checks,
            subgroup_only=element_set.subgroup_only and lee is None,
        )
    settings = AuditSettings(
        seed=seed,
        dtype=str(run_dtype).replace("torch.", ""),
        device=str(device),
        n_inputs=symmetry.io.samples(x),
        elements=[e.label for e in elements],
        exhaustive=element_set.exhaustive,
        element_note=element_set.note,
        domain=symmetry.domain,
        input_note=_input_note(symmetry, x),
        subgroup_only=element_set.subgroup_only,
        layerwise=layerwise,
        gradients=gradients,
        torch_version=torch.__version__,
        equidesign_version=__version__,
    )
    return AuditReport(
        model=name or type(model).__name__,
        symmetry=symmetry.describe(),
        group=symmetry.name,
        symmetry_type=symmetry.symmetry_type,
        verdict=diagnosis.verdict,
        summary=diagnosis.summary,
        end_to_end=result,
        layers=[t.result for t in tests],
        untested=untested,
        first_failing_layer=diagnosis.first_failing_layer,
        gradient=gradient,
        forces=forces,
        lie_derivative=lee,
        findings=diagnosis.findings
        + (lie_findings(lee) if lie_requested or diagnosis.verdict != "PASS" else []),
        self_checks=checks.checks,
        settings=settings,
        timings={k: round(v, 4) for k, v in timings.items()},
    )


def _input_note(symmetry: Symmetry, x: Any) -> str:
    """Graph inputs: which attributes move, and how (an attribute left in place is named)."""
    placement = getattr(symmetry.io, "placement", None)
    if placement is None:
        return ""
    where = placement(x)
    parts = [f"moved by the group: {', '.join(where['declared'])}"]
    if where["invariant"]:
        parts.append(f"moved with the nodes as invariants: {', '.join(where['invariant'])}")
    if where["other"]:
        parts.append(
            f"left as they are (neither one row per node, per edge nor per graph): "
            f"{', '.join(where['other'])}"
        )
    return "; ".join(parts)


def _end_to_end_and_batch(model, symmetry, x, elements, chunk, end_to_end):
    """The end-to-end test, batched; and the batch check: when ``model(x)`` alone differs from
    x inside the batched pass (or the batched pass raises where it does not), the test again
    with one copy per pass, whose result is the verdict's."""
    samples = max(symmetry.io.samples(x), 1)
    per_pass = copies_per_pass(chunk, samples, len(elements) + 1)
    try:
        e2e = end_to_end(chunk)
    except UserCodeError as exc:
        if per_pass == 1:
            raise
        try:  # does the model run on x alone?
            alone_output(model, symmetry, x)
        except Exception:
            raise exc from None
        e2e, error = None, str(exc).split(": ", 1)[-1][:200]
    else:
        error = ""
    if per_pass == 1:
        return e2e, None
    batch = _call_model(
        lambda: check_batch(
            model, symmetry, x, None if e2e is None else e2e.y, elements[: per_pass - 1], error
        ),
        "batch check",
    )
    if batch.passed and e2e.result.passed:
        return e2e, batch
    single = end_to_end(samples)  # one copy per pass
    if batch.passed:  # x matches: do the transformed copies?
        batch = _copies_batch_check(model, symmetry, x, elements, e2e, single, per_pass)
        if batch.passed:
            return e2e, batch
    batch.batched_max_rel = None if e2e is None else e2e.result.max_rel
    return single, batch


def _copies_batch_check(model, symmetry, x, elements, e2e, single, per_pass):
    """The batched end-to-end test failed although x matches alone: compare each transformed
    copy inside the batched pass with the same copy alone (the element-by-element pass)."""
    _, rel = relative_errors(e2e.y_moved, single.y_moved)
    worst = rel.reshape(rel.shape[0], -1).max(dim=1).values
    k = int(worst.argmax())
    element = elements[k]
    moved = symmetry.io.stack(x, [element], original=False)
    # its pass held the copies before it (the first pass also x itself): the same count here
    others = [e for e in elements if e is not element][: per_pass - 1]
    return _call_model(
        lambda: check_batch(
            model,
            symmetry,
            moved,
            e2e.y_moved[k],
            others,
            alone=single.y_moved[k],
            what="g·x",
            element=element.label,
        ),
        "batch check",
    )


def _rerun_in_float64(model, symmetry, x, elements, chunk) -> Float64Rerun:
    try:
        with _float64(model):
            value, level = rerun_float64(model, symmetry, x, elements, chunk)
    except Exception as exc:  # some models cannot run in float64
        log.debug("float64 re-run failed", exc_info=True)
        return Float64Rerun(
            max_rel=float("nan"),
            level=Level.BROKEN,
            cause="unknown",
            note=f"the model could not run in float64: {type(exc).__name__}: {exc}",
        )
    cause = "precision" if level == Level.PERFECT else "structure"
    note = (
        "the float64 error is perfect: the float32 error is round-off"
        if cause == "precision"
        else "the error persists in float64: it comes from the model's structure"
    )
    return Float64Rerun(max_rel=value, level=level, cause=cause, note=note)


def _gradient_in_float64(model, symmetry, x, elements, gradient, chunk=None) -> None:
    """Re-run a failing float32 gradient test in float64: gradients through max operations
    (group pooling, max pooling) flip at near-ties under round-off, which is not a fault."""
    try:
        with _float64(model):
            g64 = run_gradient(
                model, symmetry, symmetry.io.to(x, None, torch.float64), elements, chunk=chunk
            )
    except Exception:  # some models cannot run in float64
        log.debug("float64 gradient re-run failed", exc_info=True)
        return
    if g64 is None:
        return
    gradient.float64_max_rel = g64.max_rel
    if g64.passed:
        gradient.passed = True
        gradient.level = g64.level
        gradient.note = (
            f"float32 round-off: in float64 the gradients err {g64.max_rel:.1e}, so the float32 "
            "error is precision, not structure (cancellation, or a max operation at a near-tie)"
        )
        for mode in gradient.modes:
            if not mode.passed:
                mode.note = (mode.note + "; " if mode.note else "") + (
                    "float32 round-off: passes in float64"
                )


def _forces_in_float64(model, symmetry, x, elements, forces, chunk=None) -> None:
    """Re-run a failing float32 force test in float64: second-order round-off through tensor
    products (float32 Clebsch-Gordan sums) is not a fault."""
    try:
        with _float64(model):
            f64 = run_forces(
                model, symmetry, symmetry.io.to(x, None, torch.float64), elements, chunk=chunk
            )
    except Exception:  # some models cannot run in float64
        log.debug("float64 force re-run failed", exc_info=True)
        return
    if f64 is None:
        return
    forces.float64_max_rel = f64.max_rel
    if f64.passed:
        forces.passed, forces.level, forces.failing_element = True, f64.level, None
        forces.note = f"float32 round-off: the float64 forces err {f64.max_rel:.1e}"


def _gradient_at_generic_point(model, symmetry, x, elements, gradient, seed, chunk=None) -> None:
    """Re-run a failing gradient test at a slightly perturbed input.

    At exact ties -- equal values where the input is constant, e.g. the zero border of an image
    -- a max operation (group pooling, max pooling) routes its gradient to the first of the tied
    entries, which no permutation respects; any subgradient is valid there. At a generic input
    there are no ties, and a model whose gradients are equivariant passes.
    """
    gen = torch.Generator().manual_seed(seed + 7)
    noise = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x)
    scale = float(x.detach().to(torch.float64).std()) or 1.0
    moved = run_gradient(model, symmetry, x + 1e-3 * scale * noise, elements, chunk=chunk)
    if moved is None or not moved.passed:
        return
    gradient.passed = True
    gradient.level = moved.level
    gradient.note = (
        f"at the test inputs the gradients differ by {gradient.max_rel:.1e} (a max operation "
        f"breaks exact ties arbitrarily, e.g. where the input is constant); at a nearby generic "
        f"input they err {moved.max_rel:.1e}"
    )


def _train_mode_conditioning(model, symmetry, x, elements, gradient, seed) -> None:
    """Train mode alone fails: measure how far a round-off-sized input perturbation moves the
    train-mode gradients (``sensitivity``); the diagnosis judges what that explains."""
    train = next((m for m in gradient.modes if m.mode == "train" and m.checked), None)
    if (
        train is None
        or train.passed
        or not all(m.passed for m in gradient.modes if m.mode == "eval")
    ):
        return
    try:
        train.sensitivity = train_mode_sensitivity(model, symmetry, x, elements, seed)
    except Exception:  # the probe is evidence only; the measured error stands without it
        log.debug("train-mode sensitivity probe failed", exc_info=True)


def _layer_gradients(tests: list[LayerTest], elements, seed: int, chunk) -> None:
    exact = [e for e in elements if e.exact]
    for t in tests:
        if t.result is None or not passes(t.result.level):
            continue
        try:
            t.result.gradient_max_rel = gradient_error(t, exact, seed, chunk)
        except Exception:  # layers whose backward cannot run alone
            log.debug("layer gradient for %s failed", t.name, exc_info=True)
