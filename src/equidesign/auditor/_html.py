"""The audit report as one self-contained HTML file (inline CSS, plots as data URIs)."""

from __future__ import annotations

import base64
import html

from .levels import Level
from .report import AuditReport

__all__ = ["render_html"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.verdict { display: inline-block; padding: .4rem .9rem; border-radius: .4rem; color: #fff;
           font-weight: 700; letter-spacing: .03em; }
.PASS { background: #2a9d8f; } .FAIL { background: #e63946; } .NEEDS_ATTENTION { background: #f4a261; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; font-size: 13px; }
th { background: #f4f4f4; }
.perfect, .excellent { color: #2a7d6f; } .approximate { color: #b5651d; } .broken { color: #c1121f; }
.finding { border-left: 4px solid #e63946; padding: .3rem .8rem; margin: .6rem 0; background: #fff6f6; }
.finding.Medium { border-color: #f4a261; background: #fffaf3; }
.finding.Low { border-color: #8ab; background: #f5f9fb; }
code { background: #f2f2f2; padding: 0 .2rem; }
img { max-width: 100%; }
"""

_SCRIPT = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); });
window.addEventListener('load', function () {
  document.body.setAttribute('data-loaded', window.__errors.length ? 'errors' : 'ok');
  var rows = document.querySelectorAll('tr[data-level]');
  document.body.setAttribute('data-layer-rows', String(rows.length));
});
"""


def _e(value) -> str:
    return "n/a" if value is None else f"{value:.2e}"


def _cell(value) -> str:
    return f"<td>{html.escape(str(value))}</td>"


def _level(level: Level) -> str:
    return f'<td class="{level.value}">{level.value}</td>'


def _img(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _shares(per_layer: dict[str, float], kinds: dict[str, str]) -> str:
    top = sorted(per_layer.items(), key=lambda kv: -abs(kv[1]))[:3]
    return ", ".join(f"{n} ({kinds.get(n, '?')}) {v:+.0%}" for n, v in top) or "n/a"


def _table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(r: AuditReport, *, plots: bool = True) -> str:
    """One self-contained page: verdict, end-to-end table, layers with a bar chart, gradients,
    Lie derivative with its contribution plot, findings with fixes, self-checks."""
    from .lee_plot import lee_png
    from .plots import layer_errors_png

    e, s = r.end_to_end, r.settings
    parts = [
        f"<h1>Equivariance audit: {html.escape(r.model)}</h1>",
        f'<p><span class="verdict {r.verdict}" id="verdict">{r.verdict}</span> '
        f"{html.escape(r.summary)}</p>",
        f"<p>{html.escape(r.symmetry)}<br>seed {s.seed}, dtype {s.dtype}, device "
        f"{html.escape(s.device)}, {e.n_inputs} inputs, {e.n_elements} elements "
        f"({html.escape(s.element_note)})</p>",
        "<h2>End to end</h2>",
        _table(
            ["element", "applied", "max abs", "max rel", "level"],
            [
                f"<tr>{_cell(p.label)}{_cell('exactly' if p.exact else 'by interpolation')}"
                f"{_cell(_e(p.max_abs))}{_cell(_e(p.max_rel))}{_level(p.level)}</tr>"
                for p in e.per_element
            ],
        ),
        f"<p>Exact elements: max relative error {_e(e.max_rel)} ({e.level.value}).</p>",
    ]
    if e.interpolated is not None:
        i = e.interpolated
        parts.append(
            f"<p>Interpolated elements: {_e(i.max_rel)} against an interpolation floor of "
            f"{_e(i.floor)} (ratio {i.ratio:.2f}, {i.level.value}).</p>"
        )
    if e.float64 is not None:
        parts.append(
            f"<p>float64 re-run: {_e(e.float64.max_rel)} &mdash; {html.escape(e.float64.note)}</p>"
        )
    parts.append("<h2>Layer by layer</h2>")
    if r.layers:
        parts.append(
            _table(
                ["layer", "kind", "max rel", "level", "perturbed", "result"],
                [
                    f'<tr data-level="{layer.level.value}">{_cell(layer.name)}{_cell(layer.kind)}'
                    f"{_cell(_e(layer.max_rel))}{_level(layer.level)}"
                    f"{_cell(_e(layer.probe_max_rel))}{_cell('PASS' if layer.passed else 'FAIL')}</tr>"
                    for layer in r.layers
                ],
            )
        )
        if plots:
            parts.append(_img(layer_errors_png(r), "per-layer relative errors"))
    if r.first_failing_layer is not None:
        where = r.first_failing_layer or "(the model's own forward)"
        parts.append(f"<p>First failing layer: <code>{html.escape(where)}</code></p>")
    if r.untested:
        parts.append(
            "<p>Untested layers:</p><ul>"
            + "".join(
                f"<li><code>{html.escape(u.name)}</code> ({html.escape(u.kind)}): "
                f"{html.escape(u.reason)}</li>"
                for u in r.untested
            )
            + "</ul>"
        )
    parts.append("<h2>Gradients</h2>")
    if r.gradient is None:
        parts.append("<p>Not run.</p>")
    else:
        parts.append(
            _table(
                ["mode", "max rel", "level", "note"],
                [
                    f"<tr>{_cell(m.mode)}{_cell(_e(m.max_rel))}{_level(m.level)}{_cell(m.note)}</tr>"
                    for m in r.gradient.modes
                ],
            )
        )
    if r.forces is not None:
        f = r.forces
        parts += [
            "<h2>Forces</h2>",
            _table(
                ["quantity", "max rel", "level", "worst element"],
                [
                    f"<tr>{_cell('-dE/dpos')}{_cell(_e(f.max_rel))}{_level(f.level)}"
                    f"{_cell(f.failing_element or '')}</tr>"
                ],
            ),
        ]
    if r.lie_derivative is not None:
        lee = r.lie_derivative
        parts += [
            "<h2>Lie derivative</h2>",
            f"<p>{html.escape(lee.normalization)}; padding {html.escape(lee.padding)}; output "
            f"{html.escape(lee.output_action)}.</p>",
            _table(
                ["generator", "LEE", "spread", "largest shares", "shares add up to", "remainder"],
                [
                    f"<tr>{_cell(g)}{_cell(f'{res.lee:.3g}')}{_cell(f'{res.spread:.2g}')}"
                    f"{_cell(_shares(res.per_layer, lee.layer_kinds))}"
                    f"{_cell(_pct(res.attributed))}{_cell(_pct(res.remainder))}</tr>"
                    for g, res in lee.generators.items()
                ],
            ),
        ]
        if lee.generators and any(res.remainder is not None for res in lee.generators.values()):
            parts.append(
                "<p>Shares: each layer's own Lie derivative pushed to the output, projected on "
                "L<sub>X</sub>f; remainder: ||L<sub>X</sub>f &minus; &Sigma;<sub>i</sub> "
                "J<sub>&gt;i</sub> L<sub>X</sub>f<sub>i</sub>|| / ||L<sub>X</sub>f|| (functional "
                "operations and cross terms).</p>"
            )
        if lee.notes:
            parts.append(
                "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in lee.notes) + "</ul>"
            )
        if plots:
            parts.append(
                _img(lee_png(lee), "Lie derivative: contributions by layer, or per generator")
            )
    parts.append("<h2>Findings</h2>")
    if not r.findings:
        parts.append("<p>None.</p>")
    for f in r.findings:
        parts.append(
            f'<div class="finding {f.severity}"><b>[{html.escape(f.kind)}] {html.escape(f.title)}</b>'
            f"<br>at <code>{html.escape(f.location)}</code>, severity {f.severity}"
            f"<br>Fix: {html.escape(f.fix)}"
            + (f"<br><small>{html.escape(f.evidence)}</small>" if f.evidence else "")
            + "</div>"
        )
    parts.append("<h2>Self-checks</h2><ul>")
    parts += [
        f"<li>{html.escape(c.name)}: {html.escape(c.status) if c.passed else '<b>failed</b>'} &mdash; "
        f"{html.escape(c.detail)}</li>"
        for c in r.self_checks
    ]
    parts.append("</ul>")
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Audit: {html.escape(r.model)} ({r.verdict})</title>"
        f"<style>{_CSS}</style><script>{_SCRIPT}</script></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
