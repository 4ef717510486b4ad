"""Write evaluation results: ``metrics.json``, ``metrics.csv`` and a markdown table in the paper's layout.

The table has one row per method and one column per benchmark plus ``Avg.``; each cell is
``Pass@1 / mean accuracy`` in percent. ``Avg.`` is the unweighted mean over the table's
benchmarks (as the paper averages its five), shown only for methods that have all of them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from verl_dsdr.eval.aggregate import order_benchmarks

__all__ = ["BENCHMARK_TITLES", "write_json", "write_csv", "markdown_table", "write_table"]

BENCHMARK_TITLES = {
    "aime24": "AIME24",
    "aime25": "AIME25",
    "math500": "MATH500",
    "minerva": "Minerva",
    "olympiadbench": "Olympiad",
}

_DIVERSITY_FIELDS = ("problems_with_2plus_correct", "semantic_dissimilarity", "formula_uniqueness", "distinct_solutions")


def write_json(metrics: dict, path: Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return path


def _all_benchmarks(metrics: dict) -> list[str]:
    return order_benchmarks([b for per_method in metrics.values() for b in per_method])


def write_csv(metrics: dict, path: Path) -> Path:
    """One row per (method, benchmark); a pass@k column for every k seen anywhere (empty where absent)."""
    ks = sorted({int(k) for per_method in metrics.values() for m in per_method.values() for k in m["pass@k"]})
    header = ["method", "benchmark", "problems", "samples_per_problem", "mean_accuracy"]
    header += [f"pass@{k}" for k in ks] + [f"diversity_{name}" for name in _DIVERSITY_FIELDS]
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for method, per_method in metrics.items():
            for benchmark in order_benchmarks(list(per_method)):
                m = per_method[benchmark]
                diversity = m.get("diversity") or {}
                row = [method, benchmark, m["problems"], m["samples_per_problem"], m["mean_accuracy"]]
                row += [m["pass@k"].get(str(k), "") for k in ks]
                row += ["" if diversity.get(name) is None else diversity[name] for name in _DIVERSITY_FIELDS]
                writer.writerow(row)
    return path


def _cell(pass1: float, accuracy: float) -> str:
    return f"{100 * pass1:.1f} / {100 * accuracy:.1f}"


def markdown_table(metrics: dict) -> str:
    """Rows = methods, columns = benchmarks + Avg.; cells ``Pass@1 / mean accuracy`` (%), ``–`` when absent."""
    benchmarks = _all_benchmarks(metrics)
    titles = [BENCHMARK_TITLES.get(b, b) for b in benchmarks]
    lines = [
        "| Method | " + " | ".join(titles) + " | Avg. |",
        "| --- | " + " | ".join("---" for _ in benchmarks) + " | --- |",
    ]
    for method, per_method in metrics.items():
        cells, pass1s, accs = [], [], []
        for benchmark in benchmarks:
            m = per_method.get(benchmark)
            if m is None:
                cells.append("–")
                continue
            pass1s.append(m["pass@k"]["1"])
            accs.append(m["mean_accuracy"])
            cells.append(_cell(pass1s[-1], accs[-1]))
        complete = len(pass1s) == len(benchmarks)
        avg = _cell(sum(pass1s) / len(pass1s), sum(accs) / len(accs)) if complete else "–"
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {avg} |")
    lines.append("")
    lines.append(
        "Cells: Pass@1 (unbiased estimate, averaged over problems) / mean accuracy over all samples, in %."
    )
    return "\n".join(lines) + "\n"


def write_table(metrics: dict, path: Path) -> Path:
    path = Path(path)
    path.write_text(markdown_table(metrics), encoding="utf-8")
    return path
