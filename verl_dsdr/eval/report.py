"""Write evaluation results: ``metrics.json``, ``metrics.csv``, the per-sample logs and a markdown table.

``table.md`` follows the paper's Table 1: one row per method, one column per benchmark plus
``Avg.``. Methods sampled with the paper's two protocols (``generate --protocol pass1`` and
``avg16``, read from the samples' ``sampling`` record or a ``-pass1``/``-avg16`` method suffix)
share a row whose cells are ``Pass@1 / Avg@16``; every other method gets one number per cell,
``Avg@n`` (accuracy averaged over each problem's n samples, then over problems; Pass@1 when n = 1).
``Avg.`` is the unweighted mean over the table's benchmarks (as the paper averages its five),
shown only for methods that have all of them.

Every cell carries its standard error (``±``, problems as the sample; for ``Avg.`` the benchmarks
are independent, so ``SE = sqrt(sum SE_b^2) / B``). Each column header gives the number of problems
evaluated, and a line under the table warns when that differs from the benchmark's standard size
(``STANDARD_SIZES``). A paired row lists the ``metrics.json`` methods it joins, so every row can be
found there; a row name used by both a pair and an unpaired method is refused (:func:`check_labels`).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from verl_dsdr.eval.aggregate import order_benchmarks
from verl_dsdr.eval.samples import SampleError

__all__ = [
    "BENCHMARK_TITLES",
    "PAPER_PROTOCOLS",
    "STANDARD_SIZES",
    "split_protocol",
    "check_labels",
    "write_json",
    "write_csv",
    "markdown_table",
    "write_table",
    "write_sample_logs",
    "size_warnings",
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

STANDARD_SIZES = {"aime24": 30, "aime25": 30, "math500": 500, "minerva": 272, "olympiadbench": 675}
"""Problems in each benchmark's standard set (the paper's numbers are over all of them)."""

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


def check_labels(methods: Sequence[str], protocols: Mapping[str, str | None] | None = None) -> None:
    """Refuse labels that would give two table rows one name, or put two methods in one cell.

    ``model-pass1`` / ``model-avg16`` share the row ``model``; an unpaired method called ``model`` would
    be a second row of that name, and ``model`` recorded as ``pass1`` beside ``model-pass1`` one cell twice.
    """
    protocols = protocols or {}
    paired: dict[tuple[str, str], str] = {}
    plain: set[str] = set()
    for method in methods:
        row, protocol = split_protocol(method, protocols.get(method))
        if protocol in PAPER_PROTOCOLS:
            other = paired.setdefault((row, str(protocol)), method)
            if other != method:
                raise SampleError(
                    f"methods {other!r} and {method!r} are both the {protocol} samples of table row {row!r}; "
                    "rename one (python -m verl_dsdr.generate --method NAME, or the rows' 'method' key)"
                )
        else:
            plain.add(method)
    for (row, protocol), method in paired.items():
        if row in plain:
            raise SampleError(
                f"label {row!r} is used both unpaired (method {row!r}) and as the row of the paired "
                f"{protocol} samples {method!r}, so table.md would have two rows named {row!r}; rename the "
                f"unpaired method (e.g. {row}-n<samples>) or the pair (e.g. {row}-v2-pass1 / {row}-v2-avg16)"
            )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _cell(entry: dict | None) -> tuple[float | None, float | None]:
    """(Pass@1 or Avg@n, its standard error) of one (method, benchmark) entry."""
    if entry is None:
        return None, None
    return entry["pass@k"]["1"], ((entry.get("stderr") or {}).get("pass@k") or {}).get("1")


def _show(value: float | None, stderr: float | None) -> str:
    return _pct(value) if value is None or stderr is None else f"{_pct(value)} ± {_pct(stderr)}"


def _mean(values: Sequence[float | None]) -> float | None:
    return (
        None if not values or any(v is None for v in values) else sum(v for v in values if v is not None) / len(values)
    )


def _mean_stderr(errors: Sequence[float | None]) -> float | None:
    """SE of an unweighted mean of independent estimates."""
    if not errors or any(e is None for e in errors):
        return None
    return math.sqrt(sum(e * e for e in errors if e is not None)) / len(errors)


def _avg(cells: Sequence[tuple[float | None, float | None]]) -> str:
    return _show(_mean([v for v, _ in cells]), _mean_stderr([e for _, e in cells]))


def _problem_counts(metrics: dict, benchmarks: Sequence[str]) -> dict[str, tuple[int, int]]:
    """benchmark -> (fewest, most) problems over the methods that have it."""
    counts: dict[str, tuple[int, int]] = {}
    for benchmark in benchmarks:
        seen = [int(m[benchmark]["problems"]) for m in metrics.values() if benchmark in m]
        counts[benchmark] = (min(seen), max(seen))
    return counts


def size_warnings(metrics: dict) -> list[str]:
    """One line per benchmark whose problem count is not its standard size or differs between methods."""
    lines = []
    for benchmark, (low, high) in _problem_counts(metrics, _all_benchmarks(metrics)).items():
        title = BENCHMARK_TITLES.get(benchmark, benchmark)
        standard = STANDARD_SIZES.get(benchmark)
        shown = str(low) if low == high else f"{low}–{high}"
        if standard is not None and (low, high) != (standard, standard):
            lines.append(
                f"{title}: {shown} problems evaluated, the standard set has {standard}; these numbers are not "
                "comparable with published ones"
            )
        elif low != high:
            lines.append(f"{title}: the methods were evaluated on different problem counts ({shown})")
    return lines


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


def _header(first: Sequence[str], benchmarks: Sequence[str], counts: Mapping[str, tuple[int, int]]) -> list[str]:
    titles = []
    for benchmark in benchmarks:
        low, high = counts[benchmark]
        titles.append(f"{BENCHMARK_TITLES.get(benchmark, benchmark)} ({low if low == high else f'{low}–{high}'})")
    cells = [*first, *titles, "Avg."]
    return ["| " + " | ".join(cells) + " |", "|" + " --- |" * len(cells)]


def markdown_table(metrics: dict, protocols: Mapping[str, str | None] | None = None) -> str:
    """The paper's layout (module docstring). ``protocols`` maps a method to the protocol its samples
    record (``None``/absent: read from the method name's suffix)."""
    protocols = protocols or {}
    check_labels(list(metrics), protocols)
    benchmarks = _all_benchmarks(metrics)
    counts = _problem_counts(metrics, benchmarks)
    paper: dict[str, dict[str, str]] = {}  # row -> protocol -> method
    other: list[str] = []
    for method in metrics:
        row, protocol = split_protocol(method, protocols.get(method))
        if protocol in PAPER_PROTOCOLS:
            paper.setdefault(row, {})[str(protocol)] = method
        else:
            other.append(method)
    errors_note = (
        "`±`: standard error over problems (for Avg., sqrt(sum of squared SEs) / benchmarks); none where it "
        "cannot be estimated (one problem). Column headers: benchmark (problems evaluated)."
    )
    lines: list[str] = []
    if paper:
        avg_entries = [e for by in paper.values() if "avg16" in by for e in metrics[by["avg16"]].values()]
        avg_n = _n_label(avg_entries) if avg_entries else "16"
        lines += _header(["Method"], benchmarks, counts)
        for row, by_protocol in paper.items():
            halves = {
                p: [_cell(metrics[by_protocol[p]].get(b) if p in by_protocol else None) for b in benchmarks]
                for p in PAPER_PROTOCOLS
            }
            cells = [f"{_show(*a)} / {_show(*b)}" for a, b in zip(halves["pass1"], halves["avg16"])]
            avg = f"{_avg(halves['pass1'])} / {_avg(halves['avg16'])}"
            lines.append(f"| {row} | " + " | ".join(cells) + f" | {avg} |")
        joined = "; ".join(
            f"{row} = " + " + ".join(f"`{m}` ({p})" for p, m in sorted(by.items(), key=lambda i: i[0] != "pass1"))
            for row, by in paper.items()
        )
        lines += [
            "",
            f"Cells: Pass@1 / Avg@{avg_n} in %, as the paper's Table 1 (Pass@1 / Avg@16). Pass@1: the "
            "`pass1` samples (the paper: one per problem at temperature 0.1). Avg@n: accuracy over each "
            "problem's n `avg16` samples (the paper: 16 at temperature 0.7, top_p 0.9), averaged over "
            "problems. The settings used are in provenance.json. `–`: that protocol was not evaluated. " + errors_note,
            "",
            f"Rows and their methods in metrics.json / metrics.csv: {joined}.",
            "",
        ]
    if other:
        lines += _header(["Method", "n"], benchmarks, counts)
        for method in other:
            entries = [metrics[method].get(b) for b in benchmarks]
            values = [_cell(e) for e in entries]
            n = _n_label([e for e in entries if e is not None])
            lines.append(f"| {method} | {n} | " + " | ".join(_show(*v) for v in values) + f" | {_avg(values)} |")
        lines += [
            "",
            "Cells: Avg@n in %: accuracy over each problem's n samples, averaged over problems (the "
            "unbiased Pass@1; with n = 1, Pass@1 itself). Sample with `--protocol pass1` and `--protocol "
            "avg16` for the paper's Pass@1 / Avg@16 cells. " + errors_note,
            "",
        ]
    lines += [f"**Warning:** {line}." for line in size_warnings(metrics)]
    return "\n".join(lines) + ("\n" if lines and lines[-1] != "" else "")


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
