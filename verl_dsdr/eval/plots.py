"""Pass@k curves: one panel per benchmark, one line per method, k on a log2 axis (the paper's Fig. 3 layout).

Methods often overlap (equal pass@k at large k, or identical runs), so each keeps its own colour,
marker and line style in every panel, draws a standard-error bar at each point, and is shifted
sideways by a small fraction of an octave (at most 0.06 octave, i.e. a factor 2^±0.06, around each
k; the tick stays at k) so that points of equal value sit side by side instead of hiding each other. The
curve goes through every k = 1..n; markers, error bars and ticks sit at the powers of two and at n. The
exact numbers are in ``metrics.csv``. Series are named as in ``metrics.json``; ``pass1`` samples (one per
problem: a single point, shown in ``table.md``) are left out unless nothing else is there. The y-axis
starts at 0 % (an all-zero panel gets 0..1 %, not a window around zero).

This is the project's one pass@k figure: the toy reproduction draws its held-out curves with it too,
giving each entry a ``"range"`` (min and max over seeds) in place of a standard error, and its own colours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_dsdr.eval.aggregate import order_benchmarks
from verl_dsdr.eval.report import BENCHMARK_TITLES, split_protocol

__all__ = ["plot_pass_at_k", "pass_at_k_figure", "method_styles", "MARKERS", "LINESTYLES"]

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
_MAX_SHIFT = 0.06  # octaves (log2 units) at the outermost method


def method_styles(methods: list[str], palette: list[str]) -> dict[str, dict]:
    """Colour, marker, line style, sideways shift (octaves) and drawing order of each method, the same in
    every panel; shifts are centred on k, and earlier methods are drawn on top."""
    count = len(methods)
    return {
        method: {
            "color": palette[i % len(palette)],
            "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "shift": 0.0 if count == 1 else _MAX_SHIFT * (2 * i / (count - 1) - 1),
            "zorder": 3 + count - i,
        }
        for i, method in enumerate(methods)
    }


def _marked(ks: list[int]) -> list[int]:
    """Positions in ``ks`` that get a marker and an error bar: powers of two and the last k."""
    return [i for i, k in enumerate(ks) if k & (k - 1) == 0 or i == len(ks) - 1]


def plot_pass_at_k(
    metrics: dict,
    path: Path,
    protocols: Mapping[str, str | None] | None = None,
    *,
    max_columns: int = 3,
    colours: Mapping[str, str] | None = None,
) -> Path:
    """Draw ``metrics`` (the ``metrics.json`` structure) to a PNG at ``path`` with the Agg backend.

    ``protocols``: each method's recorded sampling protocol (a ``-pass1`` suffix counts too).
    ``colours``: a colour per method, replacing the default cycle for the methods it names.
    """
    import matplotlib.pyplot as plt

    fig = pass_at_k_figure(metrics, protocols, max_columns=max_columns, colours=colours)
    path = Path(path)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _error_bars(entry: dict, ks: list[int], values: list[float], marked: list[int]) -> list[list[float]]:
    """(below, above) bar lengths in points at each k, zero off the marked positions.

    From the entry's ``"range"`` (``{"low": {k: v}, "high": {k: v}}``, e.g. min and max over seeds) when it
    has one, else its standard error (``{"stderr": {"pass@k": {k: e}}}``, symmetric; missing counts as 0).
    """
    spread = entry.get("range")
    if spread is not None:
        low = [value - 100.0 * spread["low"][str(k)] for k, value in zip(ks, values)]
        high = [100.0 * spread["high"][str(k)] - value for k, value in zip(ks, values)]
    else:
        errors = (entry.get("stderr") or {}).get("pass@k") or {}
        low = high = [100.0 * (errors.get(str(k)) or 0.0) for k in ks]
    keep = set(marked)
    return [[e if i in keep else 0.0 for i, e in enumerate(side)] for side in (low, high)]


def pass_at_k_figure(
    metrics: dict,
    protocols: Mapping[str, str | None] | None = None,
    *,
    max_columns: int = 3,
    colours: Mapping[str, str] | None = None,
) -> Any:
    """The figure :func:`plot_pass_at_k` saves (a matplotlib ``Figure``; the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator

    protocols = protocols or {}
    curves = {m: v for m, v in metrics.items() if split_protocol(m, protocols.get(m))[1] != "pass1"}
    metrics = curves or metrics
    benchmarks = order_benchmarks([b for per_method in metrics.values() for b in per_method])
    if not benchmarks:
        raise ValueError("no benchmarks to plot")
    columns = min(max_columns, len(benchmarks))
    rows = math.ceil(len(benchmarks) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    style = method_styles(list(metrics), plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for method, colour in (colours or {}).items():
        if method in style:
            style[method]["color"] = colour
    for ax, benchmark in zip(axes.flat, benchmarks):
        ks_seen: set[int] = set()
        top = 0.0
        for method, per_method in metrics.items():
            entry = per_method.get(benchmark)
            if entry is None:
                continue
            ks = sorted(int(k) for k in entry["pass@k"])
            marked = _marked(ks)
            ks_seen.update(ks[i] for i in marked)
            values = [100.0 * entry["pass@k"][str(k)] for k in ks]
            yerr = _error_bars(entry, ks, values, marked)
            top = max(top, *(v + e for v, e in zip(values, yerr[1])))
            look = style[method]
            xs = [k * 2.0 ** look["shift"] for k in ks]
            ax.errorbar(
                xs,
                values,
                yerr=yerr,
                marker=look["marker"],
                markevery=marked,
                errorevery=marked,
                markersize=4,
                linewidth=1.5,
                linestyle=look["linestyle"],
                color=look["color"],
                label=method,
                capsize=2,
                elinewidth=0.8,
                alpha=0.9,
                zorder=look["zorder"],
            )
        high = max(1.0, top * 1.08)
        ax.set_ylim(-0.02 * high, high)
        ticks = sorted(ks_seen)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([str(k) for k in ticks]))
        ax.xaxis.set_minor_locator(FixedLocator([]))
        ax.set_title(BENCHMARK_TITLES.get(benchmark, benchmark))
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k (%)")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(benchmarks) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1 : len(benchmarks)]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.tight_layout()
    # Below the panels, at most three entries per panel width; bbox_inches="tight" keeps it all in the image.
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(len(labels), 3 * columns),
        frameon=False,
    )
    return fig
