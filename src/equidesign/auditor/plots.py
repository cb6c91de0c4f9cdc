"""Plots for reports: per-layer Lie derivative contributions (cumulative, as the paper's fig. 4)
and per-layer equivariance errors. matplotlib is imported lazily, with the Agg backend."""

from __future__ import annotations

import io

from .report import AuditReport, LieDerivativeResult

__all__ = ["lee_contributions_png", "layer_errors_png"]


def _figure(width: float = 7.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=(width, height), dpi=100)


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def lee_contributions_png(result: LieDerivativeResult) -> bytes | None:
    """Cumulative share of ||L_X f||^2 by layer, in layer order, one line per generator."""
    series = {g: r.per_layer for g, r in result.generators.items() if r.per_layer}
    if not series:
        return None
    plt, fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    layers = list(next(iter(series.values())))
    for g, shares in series.items():
        total, ys = 0.0, []
        for name in layers:
            total += shares.get(name, 0.0)
            ys.append(total)
        ax.plot(range(len(layers)), ys, marker="o", label=g)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("cumulative share of ||L_X f||^2")
    ax.set_title("Lie derivative: contributions by layer")
    ax.legend(fontsize=7)
    return _png(plt, fig)


def layer_errors_png(report: AuditReport) -> bytes | None:
    """Bar chart of each tested layer's relative equivariance error (log scale)."""
    if not report.layers:
        return None
    plt, fig = _figure(7.0, 3.0)
    ax = fig.add_subplot(1, 1, 1)
    values = [max(layer.max_rel, 1e-12) for layer in report.layers]
    colors = ["#2a9d8f" if layer.passed else "#e63946" for layer in report.layers]
    ax.bar(range(len(values)), values, color=colors)
    ax.set_yscale("log")
    for level, label in ((1e-4, "excellent"), (1e-2, "broken")):
        ax.axhline(level, color="grey", linewidth=0.8, linestyle="--")
        ax.text(len(values) - 0.5, level, label, fontsize=7, va="bottom", ha="right")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels([layer.name for layer in report.layers], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("max relative error")
    return _png(plt, fig)
