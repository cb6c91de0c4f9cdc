"""Rendering an :class:`AuditReport` as text (the audit guide's template) and as markdown."""

from __future__ import annotations

from .levels import classify, passes
from .report import AuditReport

__all__ = ["render_text", "render_markdown"]


def _e(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2e}"


def _where(location: str) -> str:
    """Layer paths as named_modules() gives them; the root module's path is empty."""
    return location if location else "(the model's own forward)"


def _result(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _e2e_lines(r: AuditReport) -> list[str]:
    e = r.end_to_end
    exact = sum(1 for p in e.per_element if p.exact)
    on_grid = r.settings.domain in ("", "image2d", "image3d")
    lines = [
        f"Test samples: {e.n_inputs}",
        f"Transformations tested: {e.n_elements} ({r.settings.element_note})",
        *([f"Inputs: {r.settings.input_note}"] if r.settings.input_note else []),
        f"Exact elements: {exact}; interpolated (off the pixel grid): {e.n_elements - exact}"
        if on_grid
        else f"Exact elements: {exact}",
        "",
        "Invariance/Equivariance Error (exact elements):",
        f"- Mean absolute: {_e(e.mean_abs)}",
        f"- Max absolute: {_e(e.max_abs)}",
        f"- Mean relative: {_e(e.mean_rel)}",
        f"- Max relative: {_e(e.max_rel)}",
        f"- Level: {e.level.value}",
    ]
    if e.failing_element:
        lines.append(f"- Failing element: {e.failing_element}")
    if e.identity_error is not None:
        lines.append(f"- Identity element error: {_e(e.identity_error)}")
    if e.float64 is not None:
        lines.append(
            f"- float64 re-run: {_e(e.float64.max_rel)} ({e.float64.level.value}): {e.float64.note}"
        )
    lines.append(f"- RESULT: {_result(e.passed)}")
    if e.interpolated is not None:
        i = e.interpolated
        lines += [
            "",
            f"Interpolated elements ({i.n_elements}), judged against the input's own "
            "interpolation error (rotate and rotate back):",
            f"- Max relative: {_e(i.max_rel)}",
            f"- Interpolation floor: {_e(i.floor)}",
            f"- Ratio (model / floor): {i.ratio:.2f}",
            f"- Level: {i.level.value}",
            f"- RESULT: {_result(i.passed)}",
        ]
        if r.symmetry_type == "Invariant":
            lines.append(
                "- Note: an invariant output averages errors over the image; a model exact only "
                "on the grid's subgroup (C4 audited as C8) can stay within this bound -- a dense "
                "output (or the feature maps) tells them apart"
            )
    return lines


def _layer_lines(r: AuditReport) -> list[str]:
    if not r.settings.layerwise:
        return ["(layer-wise analysis not requested)"]
    lines = []
    for layer in r.layers:
        lines.append(f"- Layer: {layer.name} ({layer.kind})")
        lines.append(f"  Error: {_e(layer.max_rel)} ({layer.level.value})")
        extra = []
        if layer.probe_max_rel is not None:
            extra.append(f"perturbed parameters {_e(layer.probe_max_rel)}")
        if layer.train_max_rel is not None:
            extra.append(f"train mode {_e(layer.train_max_rel)}")
        if layer.gradient_max_rel is not None:
            extra.append(f"gradient {_e(layer.gradient_max_rel)}")
        if layer.float64_max_rel is not None:
            extra.append(f"float64 {_e(layer.float64_max_rel)}")
        if extra:
            lines.append("  Probes: " + ", ".join(extra))
        if layer.note:
            lines.append(f"  Note: {layer.note}")
        lines.append(f"  Result: {_layer_result(layer)}")
    if not r.layers:
        lines.append("(no layer could be tested alone)")
    if r.first_failing_layer is not None:
        lines.append(f"First failing layer: {_where(r.first_failing_layer)}")
    if r.untested:
        lines.append("Untested layers:")
        lines += [f"- {u.name} ({u.kind}): {u.reason}" for u in r.untested]
    return lines


def _layer_result(layer) -> str:
    """PASS/FAIL of the forward test, and of the layer's own gradients when those fail."""
    grad = layer.gradient_max_rel
    if layer.passed and grad is not None and not passes(classify(grad)):
        return "FAIL (its forward pass is equivariant, its gradients are not)"
    return _result(layer.passed)


def _gradient_lines(r: AuditReport) -> list[str]:
    g = r.gradient
    if g is None:
        return ["(gradient test not run)"]
    lines = [f"- Gradient equivariance error: {_e(g.max_rel)} ({g.level.value})"]
    for m in g.modes:
        note = f" -- {m.note}" if m.note else ""
        value = f"{_e(m.max_rel)} ({m.level.value})" if m.checked else "not checked"
        at = f" at {m.failing_element}" if m.failing_element else ""
        lines.append(f"  - {m.mode} mode: {value}{at}{note}")
    lines.append(f"- Loss: {g.loss}")
    if g.float64_max_rel is not None:
        lines.append(
            f"- float64 re-run: {_e(g.float64_max_rel)}{' -- ' + g.note if g.note else ''}"
        )
    lines.append(f"- RESULT: {_result(g.passed)}")
    return lines


def _lie_lines(r: AuditReport) -> list[str]:
    lee = r.lie_derivative
    if lee is None:
        return []
    lines = [
        "",
        "LIE DERIVATIVE (local equivariance error):",
        "-------------------------------------------",
    ]
    lines.append(f"Normalisation: {lee.normalization}")
    lines.append(f"Padding while resampling: {lee.padding}; output {lee.output_action}")
    for g, res in lee.generators.items():
        lines.append(f"- {g}: LEE {res.lee:.3g} +- {res.spread:.2g} (per {res.unit})")
        top = sorted(res.per_layer.items(), key=lambda kv: -abs(kv[1]))[:3]
        if top:
            kinds = lee.layer_kinds
            shares = ", ".join(
                f"{name} ({kinds.get(name, '?')}) {share:+.0%}" for name, share in top
            )
            lines.append(f"  largest shares: {shares}")
            if res.remainder is not None:
                lines.append(
                    f"  shares add up to {res.attributed:.1%}; remainder "
                    f"||L_X f - sum_i J_>i L_X f_i|| / ||L_X f|| = {res.remainder:.1%}"
                )
    lines += [f"  note: {n}" for n in lee.notes]
    return lines


def _issue_lines(r: AuditReport) -> list[str]:
    if not r.findings:
        return ["None."]
    lines = []
    for i, f in enumerate(r.findings, 1):
        lines += [
            f"{i}. [{f.kind}] {f.title}",
            f"   - Location: {_where(f.location)}",
            f"   - Severity: {f.severity}",
            f"   - Recommended fix: {f.fix}",
        ]
        if f.evidence:
            lines.append(f"   - Evidence: {f.evidence}")
    return lines


def _recommendations(r: AuditReport) -> list[str]:
    if r.findings:
        seen, out = set(), []
        for f in r.findings:
            if f.fix not in seen:
                seen.add(f.fix)
                out.append(f"- {_where(f.location)}: {f.fix}")
        return out
    return ["- None: keep this audit in CI as a regression check (equidesign.compare)."]


def render_text(r: AuditReport) -> str:
    """The audit guide's report template, filled in."""
    s = r.settings
    parts = [
        "MODEL EQUIVARIANCE AUDIT REPORT",
        "===============================",
        "",
        f"Model: {r.model}",
        f"Intended Symmetry: {r.group}",
        f"Symmetry Type: {r.symmetry_type}",
        f"Actions: {r.symmetry}",
        f"Reproduce: seed={s.seed}, dtype={s.dtype}, device={s.device}, "
        f"equidesign {s.equidesign_version}, torch {s.torch_version}",
        "",
        "END-TO-END TESTS:",
        "-----------------",
        *_e2e_lines(r),
        "",
        "LAYER-WISE ANALYSIS:",
        "--------------------",
        *_layer_lines(r),
        "",
        "GRADIENT TEST:",
        "--------------",
        *_gradient_lines(r),
        *(
            [
                "",
                "FORCES (-dE/dpos):",
                "------------------",
                f"- Equivariance error: {_e(r.forces.max_rel)} ({r.forces.level.value})",
                *([f"- Note: {r.forces.note}"] if r.forces.note else []),
                f"- RESULT: {_result(r.forces.passed)}",
            ]
            if r.forces is not None
            else []
        ),
        *_lie_lines(r),
        "",
        "SELF-CHECKS:",
        "------------",
        *[f"- {c.name}: {c.status} -- {c.detail}" for c in r.self_checks],
        "",
        "IDENTIFIED ISSUES:",
        "------------------",
        *_issue_lines(r),
        "",
        f"OVERALL VERDICT: {r.verdict}",
        f"{r.summary}",
        "",
        "Recommendations:",
        *_recommendations(r),
    ]
    return "\n".join(parts) + "\n"


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def render_markdown(r: AuditReport) -> str:
    e = r.end_to_end
    s = r.settings
    lines = [
        f"# Equivariance audit: {r.model}",
        "",
        f"**Verdict: {r.verdict}** — {r.summary}",
        "",
        f"- Symmetry: {r.group} ({r.symmetry_type.lower()})",
        f"- Actions: {r.symmetry}",
        f"- Elements: {e.n_elements} ({s.element_note}); inputs: {e.n_inputs}",
        *([f"- Input attributes: {s.input_note}"] if s.input_note else []),
        f"- Reproduce: seed {s.seed}, dtype {s.dtype}, device {s.device}",
        "",
        "## End to end",
        "",
        *_md_table(
            ["element", "exact", "max abs", "max rel", "level"],
            [
                [
                    p.label,
                    "yes" if p.exact else "interpolated",
                    _e(p.max_abs),
                    _e(p.max_rel),
                    p.level.value,
                ]
                for p in e.per_element
            ],
        ),
        "",
        f"Exact elements: max relative {_e(e.max_rel)}, mean {_e(e.mean_rel)} — "
        f"**{e.level.value}** ({_result(e.passed)}).",
    ]
    if e.interpolated is not None:
        i = e.interpolated
        lines += [
            "",
            f"Interpolated elements: max relative {_e(i.max_rel)} against an interpolation floor "
            f"of {_e(i.floor)} (ratio {i.ratio:.2f}) — **{i.level.value}**.",
        ]
    if e.float64 is not None:
        lines += ["", f"float64 re-run: {_e(e.float64.max_rel)} — {e.float64.note}."]
    lines += ["", "## Layer by layer", ""]
    if r.layers:
        lines += _md_table(
            ["layer", "kind", "max rel", "level", "probe", "result"],
            [
                [
                    f"`{layer.name}`",
                    layer.kind,
                    _e(layer.max_rel),
                    layer.level.value,
                    _e(layer.probe_max_rel),
                    _result(layer.passed),
                ]
                for layer in r.layers
            ],
        )
    else:
        lines.append("No layer could be tested alone.")
    if r.first_failing_layer is not None:
        lines += ["", f"First failing layer: `{_where(r.first_failing_layer)}`"]
    if r.untested:
        lines += ["", "Untested:", ""] + [
            f"- `{u.name}` ({u.kind}): {u.reason}" for u in r.untested
        ]
    lines += ["", "## Gradients", ""]
    lines += (
        ["Not run."]
        if r.gradient is None
        else [
            f"- {m.mode}: {_e(m.max_rel)} ({m.level.value}) {m.note}".rstrip()
            for m in r.gradient.modes
        ]
    )
    if r.forces is not None:
        f = r.forces
        lines += [
            "",
            "## Forces",
            "",
            f"- -dE/dpos: {_e(f.max_rel)} ({f.level.value}), {_result(f.passed)}"
            + (f" (worst: {f.failing_element})" if f.failing_element else "")
            + (f"; {f.note}" if f.note else ""),
        ]
    if r.lie_derivative is not None:
        lee = r.lie_derivative
        lines += ["", "## Lie derivative", "", lee.normalization + ".", ""]
        lines += _md_table(
            ["generator", "LEE", "spread", "largest share", "remainder"],
            [
                [
                    g,
                    f"{res.lee:.3g}",
                    f"{res.spread:.2g}",
                    ", ".join(
                        f"`{n}` ({lee.layer_kinds.get(n, '?')}) {v:+.0%}"
                        for n, v in sorted(res.per_layer.items(), key=lambda kv: -abs(kv[1]))[:2]
                    ),
                    "n/a" if res.remainder is None else f"{res.remainder:.1%}",
                ]
                for g, res in lee.generators.items()
            ],
        )
        lines += [""] + [f"- {note}" for note in lee.notes] if lee.notes else []
    lines += ["", "## Findings", ""]
    if not r.findings:
        lines.append("None.")
    for f in r.findings:
        lines += [
            f"- **[{f.kind}] {f.title}** ({f.severity}) at `{_where(f.location)}`",
            f"  - Fix: {f.fix}",
        ] + ([f"  - Evidence: {f.evidence}"] if f.evidence else [])
    lines += ["", "## Self-checks", ""]
    lines += [
        f"- {c.name}: {c.status if c.passed else '**failed**'} — {c.detail}" for c in r.self_checks
    ]
    return "\n".join(lines) + "\n"
