"""The Lie derivative's plot, for the HTML report and for ``lee.png`` beside it.

With a layer-wise attribution: the cumulative contributions by layer, in layer order (the
paper's figure 4, :func:`.plots.lee_contributions_png`). Without one (point clouds, custom
symmetries, generators whose fields have no continuous action inside the model): the LEE per
generator with its spread over the inputs.
"""

from __future__ import annotations

from .plots import _figure, _png, lee_contributions_png
from .report import LieDerivativeResult

__all__ = ["lee_png"]


def lee_png(result: LieDerivativeResult | None) -> bytes | None:
    """PNG bytes of the Lie derivative's plot, or None when nothing was measured."""
    if result is None or not result.generators:
        return None
    if any(r.per_layer for r in result.generators.values()):
        return lee_contributions_png(result)
    plt, fig = _figure(6.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    names = list(result.generators)
    values = [max(result.generators[g].lee, 1e-12) for g in names]
    spreads = [result.generators[g].spread for g in names]
    ax.bar(range(len(names)), values, yerr=spreads, color="#457b9d", capsize=3)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"LEE ({result.normalization_kind or 'normalised'})")
    ax.set_title(f"Lie derivative per generator, {result.n_inputs} inputs (no attribution)")
    return _png(plt, fig)
