"""PNG figures of the toy reproduction: mean over seeds as a line, min-max over seeds as a band.

Everything is drawn with matplotlib's Agg backend (no display). Inputs are plain dicts built by
``verl_dsdr.toy.report``; each method keeps one colour in every figure. The pass@k figure is the
evaluation's (``verl_dsdr.eval.plots.plot_pass_at_k``), given these colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Band", "band", "colours_for", "plot_curves", "plot_difference_curves", "plot_bars"]

Band = tuple[list[float], list[float], list[float], list[float]]
"""(x, mean, min, max) over seeds."""


def band(curves: Sequence[tuple[Sequence[float], Sequence[float]]]) -> Band:
    """Mean, min and max over seeds at the x values every seed has (seeds may stop at different steps)."""
    if not curves:
        return [], [], [], []
    common = set(curves[0][0])
    for xs, _ in curves[1:]:
        common &= set(xs)
    xs = sorted(common)
    table = np.array([[dict(zip(cx, cy))[x] for x in xs] for cx, cy in curves], dtype=float).reshape(
        len(curves), len(xs)
    )
    return xs, table.mean(0).tolist(), table.min(0).tolist(), table.max(0).tolist()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
REFERENCE_COLOUR = "#7f7f7f"


def colours_for(methods: Sequence[str], reference: str | None = None) -> dict[str, str]:
    """A fixed colour per method in the given order; ``reference`` (a baseline row) is grey."""
    others = [m for m in methods if m != reference]
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(others)}
    if reference is not None and reference in methods:
        colours[reference] = REFERENCE_COLOUR
    return colours


def plot_curves(
    panels: Sequence[tuple[str, dict[str, Band]]],
    labels: dict[str, str],
    path: str | Path,
    *,
    xlabel: str = "training step",
    colours: dict[str, str] | None = None,
) -> Path:
    """One panel per (title, {method: band}); panels without data say so instead of staying blank."""
    plt = _pyplot()
    methods = list(dict.fromkeys(m for _, per in panels for m in per))
    colours = colours or colours_for(list(labels) or methods)
    columns = min(3, max(1, len(panels)))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.3 * rows), squeeze=False)
    for ax, (title, per_method) in zip(axes.flat, panels):
        for method, (xs, mean, lo, hi) in per_method.items():
            if not xs:
                continue
            colour = colours.get(method, "#333333")
            ax.plot(xs, mean, color=colour, linewidth=1.6, label=labels.get(method, method))
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.18, linewidth=0)
        if not any(b[0] for b in per_method.values()):
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#888888")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    handles, names = [], []
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=min(len(names), 5), frameon=False)
    fig.tight_layout(rect=(0, 0.07 if rows == 1 else 0.04, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_difference_curves(per_pair: dict[str, list[dict | None]], labels: dict[str, str], path: str | Path) -> Path:
    """pass@k difference (points) against k = 1..n for each pair, with its 95% bootstrap interval."""
    plt = _pyplot()
    colours = colours_for(list(per_pair))
    fig, ax = plt.subplots(figsize=(5.4, 3.8))
    for pair, entries in per_pair.items():
        points = [(k, e) for k, e in enumerate(entries, start=1) if e is not None]
        if not points:
            continue
        ks = [k for k, _ in points]
        colour = colours.get(pair, "#333333")
        ax.plot(
            ks,
            [100 * e["diff"] for _, e in points],
            marker="o",
            markersize=3,
            color=colour,
            label=labels.get(pair, pair),
        )
        ax.fill_between(
            ks,
            [100 * e["low"] for _, e in points],
            [100 * e["high"] for _, e in points],
            color=colour,
            alpha=0.18,
            linewidth=0,
        )
    ax.axhline(0.0, color="#555555", linewidth=0.8)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k difference (points)")
    ax.set_title("held-out pass@k: difference and 95% bootstrap interval", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_bars(
    panels: Sequence[tuple[str, dict[str, list[float]]]],
    labels: dict[str, str],
    path: str | Path,
    *,
    colours: dict[str, str] | None = None,
) -> Path:
    """One panel per (title, {method: per-seed values}): bar = mean, error bar = min-max, dots = seeds."""
    plt = _pyplot()
    methods = list(labels) or list(dict.fromkeys(m for _, per in panels for m in per))
    colours = colours or colours_for(methods)
    columns = min(3, max(1, len(panels)))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.3 * rows), squeeze=False)
    for ax, (title, per_method) in zip(axes.flat, panels):
        shown = [m for m in methods if per_method.get(m)]
        for i, method in enumerate(shown):
            values = np.array(per_method[method], dtype=float)
            mean = float(values.mean())
            ax.bar(i, mean, color=colours[method], alpha=0.75)
            ax.errorbar(i, mean, yerr=[[mean - values.min()], [values.max() - mean]], color="#222222", capsize=3)
            ax.scatter(np.full(len(values), i), values, color="#222222", s=9, zorder=3)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([labels.get(m, m) for m in shown], rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        if not shown:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#888888")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
