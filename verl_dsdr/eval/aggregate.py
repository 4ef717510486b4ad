"""Group scored samples by method, benchmark and problem, and compute every reported number.

Methods keep their order of first appearance; benchmarks follow the paper's order (AIME24,
AIME25, MATH500, Minerva, OlympiadBench), then any other in order of first appearance.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from verl_dsdr.eval.diversity import DEFAULT_CLUSTER_THRESHOLD, Encoder, correct_diversity
from verl_dsdr.eval.metrics import benchmark_accuracy
from verl_dsdr.eval.samples import Sample

__all__ = ["PAPER_BENCHMARKS", "order_benchmarks", "group_samples", "build_metrics"]

PAPER_BENCHMARKS = ("aime24", "aime25", "math500", "minerva", "olympiadbench")

Grouped = dict[str, dict[str, dict[str, list[tuple[str, bool]]]]]
"""method -> benchmark -> problem_id -> [(response, correct)]"""


def order_benchmarks(names: Sequence[str]) -> list[str]:
    """The paper's benchmarks first, in its order, then the rest in the given order."""
    unique = list(dict.fromkeys(names))
    known = [b for b in PAPER_BENCHMARKS if b in unique]
    return known + [b for b in unique if b not in PAPER_BENCHMARKS]


def group_samples(samples: Sequence[Sample], correct: Sequence[bool]) -> Grouped:
    if len(samples) != len(correct):
        raise ValueError(f"{len(samples)} samples but {len(correct)} correctness values")
    grouped: Grouped = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for sample, ok in zip(samples, correct):
        grouped[sample.method][sample.benchmark][sample.problem_id].append((sample.response, bool(ok)))
    return grouped


def build_metrics(
    samples: Sequence[Sample],
    correct: Sequence[bool],
    *,
    encode: Encoder | None = None,
    cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    k_max: int | None = None,
) -> dict:
    """``{method: {benchmark: {problems, samples_per_problem, mean_accuracy, pass@k, unequal_sample_counts,
    diversity}}}``; ``diversity`` is ``None`` when ``encode`` is ``None`` (diversity switched off)."""
    grouped = group_samples(samples, correct)
    metrics: dict = {}
    for method, benchmarks in grouped.items():
        metrics[method] = {}
        for benchmark in order_benchmarks(list(benchmarks)):
            problems = benchmarks[benchmark]
            counts = {pid: (len(rows), sum(ok for _, ok in rows)) for pid, rows in problems.items()}
            entry = benchmark_accuracy(counts, label=f"{method}/{benchmark}", k_max=k_max)
            if encode is None:
                entry["diversity"] = None
            else:
                correct_sets = [[text for text, ok in rows if ok] for rows in problems.values()]
                entry["diversity"] = correct_diversity(correct_sets, encode, threshold=cluster_threshold)
            metrics[method][benchmark] = entry
    return metrics
