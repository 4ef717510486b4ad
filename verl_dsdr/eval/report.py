"""Write evaluation results: ``metrics.json``, ``metrics.csv``, the per-sample logs and a markdown table.

``table.md`` follows the paper's Table 1: one row per method, one column per benchmark plus
``Avg.``. Methods sampled with the paper's two protocols (``generate --protocol pass1`` and
``avg16``, read from the samples' ``sampling`` record or a ``-pass1``/``-avg16`` method suffix)
share a row whose cells are ``Pass@1 / Avg@16``; every other method gets one number per cell,
``Avg@n`` (accuracy averaged over each problem's n samples, then over problems; Pass@1 when n = 1).
``Avg.`` is the unweighted mean over the table's benchmarks (as the paper averages its five),
shown only for methods that have all of them.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Mapping, Sequence

from verl_dsdr.eval.aggregate import order_benchmarks

__all__ = [
    "BENCHMARK_TITLES",
    "PAPER_PROTOCOLS",
    "split_protocol",
    "write_json",
    "write_csv",
    "markdown_table",
    "write_table",
    "write_sample_logs",
]

PAPER_PROTOCOLS = ("pass1", "avg16")
"""The two sampling protocols of the paper's Table 1 (``python -m verl_dsdr.generate --protocol``)."""
_KNOWN_PROTOCOLS = ("pass1", "avg16", "passk")

BENCHMARK_TITLES = {
    "aime24": "AIME24",
    "aime25": "AIME25",
    "math500": "MATH500",
    "minerva": "Minerva",
    "olympiadbench": "Olympiad",
}

_DIVERSITY_FIELDS = (
    "problems_with_2plus_correct",
    "semantic_dissimilarity",
    "formula_uniqueness",
    "distinct_solutions",
)


def write_json(metrics: dict, path: Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return path


def _all_benchmarks(metrics: dict) -> list[str]:
    return order_benchmarks([b for per_method in metrics.values() for b in per_method])


def write_csv(metrics: dict, path: Path) -> Path:
    """One row per (method, benchmark); a pass@k column and its standard error for every k seen (empty where absent)."""
    ks = sorted({int(k) for per_method in metrics.values() for m in per_method.values() for k in m["pass@k"]})
    header = ["method", "benchmark", "problems", "samples_per_problem", "mean_accuracy", "mean_accuracy_stderr"]
    header += [f"pass@{k}" for k in ks] + [f"pass@{k}_stderr" for k in ks]
    header += [f"diversity_{name}" for name in _DIVERSITY_FIELDS]
    header += [f"diversity_{name}_stderr" for name in _DIVERSITY_FIELDS[1:]]
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for method, per_method in metrics.items():
            for benchmark in order_benchmarks(list(per_method)):
                m = per_method[benchmark]
                stderr = m.get("stderr") or {}
                diversity = m.get("diversity") or {}
                diversity_stderr = diversity.get("stderr") or {}
                row = [
                    method,
                    benchmark,
                    m["problems"],
                    m["samples_per_problem"],
                    m["mean_accuracy"],
                    _blank(stderr.get("mean_accuracy")),
                ]
                row += [m["pass@k"].get(str(k), "") for k in ks]
                row += [_blank((stderr.get("pass@k") or {}).get(str(k))) for k in ks]
                row += [_blank(diversity.get(name)) for name in _DIVERSITY_FIELDS]
                row += [_blank(diversity_stderr.get(name)) for name in _DIVERSITY_FIELDS[1:]]
                writer.writerow(row)
    return path


def _blank(value: object) -> object:
    return "" if value is None else value


def split_protocol(method: str, protocol: str | None = None) -> tuple[str, str | None]:
    """``(row name, protocol)``: the protocol recorded by ``generate``, else a ``-pass1``/``-avg16``/``-passk``
    suffix of the method name; the suffix is dropped from the row name."""
    for name in _KNOWN_PROTOCOLS:
        if method.endswith(f"-{name}") and protocol in (None, name):
            return method[: -len(name) - 1], name
    return method, protocol


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _mean(values: Sequence[float | None]) -> float | None:
    return (
        None if not values or any(v is None for v in values) else sum(v for v in values if v is not None) / len(values)
    )


def _n_label(entries: Sequence[dict]) -> str:
    low = min(
        min(int(n) for n in e["unequal_sample_counts"].values())
        if e["unequal_sample_counts"]
        else e["samples_per_problem"]
        for e in entries
    )
    high = max(
        max(int(n) for n in e["unequal_sample_counts"].values())
        if e["unequal_sample_counts"]
        else e["samples_per_problem"]
        for e in entries
    )
    return str(low) if low == high else f"{low}–{high}"


def _header(first: Sequence[str], benchmarks: Sequence[str]) -> list[str]:
    titles = [BENCHMARK_TITLES.get(b, b) for b in benchmarks]
    cells = [*first, *titles, "Avg."]
    return ["| " + " | ".join(cells) + " |", "|" + " --- |" * len(cells)]


def markdown_table(metrics: dict, protocols: Mapping[str, str | None] | None = None) -> str:
    """The paper's layout (module docstring). ``protocols`` maps a method to the protocol its samples
    record (``None``/absent: read from the method name's suffix)."""
    protocols = protocols or {}
    benchmarks = _all_benchmarks(metrics)
    paper: dict[str, dict[str, dict]] = {}  # row -> protocol -> {benchmark: entry}
    other: list[str] = []
    for method in metrics:
        row, protocol = split_protocol(method, protocols.get(method))
        if protocol in PAPER_PROTOCOLS:
            paper.setdefault(row, {})[str(protocol)] = metrics[method]
        else:
            other.append(method)
    lines: list[str] = []
    if paper:
        avg_entries = [e for by in paper.values() for e in (by.get("avg16") or {}).values()]
        avg_n = _n_label(avg_entries) if avg_entries else "16"
        lines += _header(["Method"], benchmarks)
        for row, by_protocol in paper.items():
            halves = {p: [(by_protocol.get(p) or {}).get(b) for b in benchmarks] for p in PAPER_PROTOCOLS}
            values = {p: [None if e is None else e["pass@k"]["1"] for e in halves[p]] for p in PAPER_PROTOCOLS}
            cells = [f"{_pct(a)} / {_pct(b)}" for a, b in zip(values["pass1"], values["avg16"])]
            avg = f"{_pct(_mean(values['pass1']))} / {_pct(_mean(values['avg16']))}"
            lines.append(f"| {row} | " + " | ".join(cells) + f" | {avg} |")
        lines += [
            "",
            f"Cells: Pass@1 / Avg@{avg_n} in %, as the paper's Table 1 (Pass@1 / Avg@16). Pass@1: the "
            "`pass1` samples (the paper: one per problem at temperature 0.1). Avg@n: accuracy over each "
            "problem's n `avg16` samples (the paper: 16 at temperature 0.7, top_p 0.9), averaged over "
            "problems. The settings used are in provenance.json. `–`: that protocol was not evaluated.",
            "",
        ]
    if other:
        lines += _header(["Method", "n"], benchmarks)
        for method in other:
            entries = [metrics[method].get(b) for b in benchmarks]
            values = [None if e is None else e["pass@k"]["1"] for e in entries]
            n = _n_label([e for e in entries if e is not None])
            lines.append(f"| {method} | {n} | " + " | ".join(_pct(v) for v in values) + f" | {_pct(_mean(values))} |")
        lines += [
            "",
            "Cells: Avg@n in %: accuracy over each problem's n samples, averaged over problems (the "
            "unbiased Pass@1; with n = 1, Pass@1 itself). Sample with `--protocol pass1` and `--protocol "
            "avg16` for the paper's Pass@1 / Avg@16 cells.",
            "",
        ]
    return "\n".join(lines)


def write_table(metrics: dict, path: Path, protocols: Mapping[str, str | None] | None = None) -> Path:
    path = Path(path)
    path.write_text(markdown_table(metrics, protocols), encoding="utf-8")
    return path


def _file_part(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "_"


def write_sample_logs(verdicts: Mapping[tuple[str, str], Sequence[dict]], folder: Path) -> list[Path]:
    """``--log_samples``: ``folder/samples_<method>_<benchmark>.jsonl``, one verdict per sampled response."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, tuple[str, str]] = {}
    for (method, benchmark), records in verdicts.items():
        path = folder / f"samples_{_file_part(method)}_{_file_part(benchmark)}.jsonl"
        if path in written:
            raise ValueError(
                f"{written[path]} and {(method, benchmark)} map to the same log file {path.name}; rename one method"
            )
        written[path] = (method, benchmark)
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(
                    json.dumps({"method": method, "benchmark": benchmark, **record}, ensure_ascii=False) + "\n"
                )
    return list(written)
