"""Group scored samples by method, benchmark and problem, and compute every reported number.

Methods keep their order of first appearance; benchmarks follow the paper's order (AIME24,
AIME25, MATH500, Minerva, OlympiadBench), then any other in order of first appearance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from verl_dsdr.eval.diversity import DEFAULT_CLUSTER_THRESHOLD, Encoder, correct_diversity
from verl_dsdr.eval.metrics import benchmark_accuracy, mean_stderr
from verl_dsdr.eval.samples import Sample

__all__ = ["PAPER_BENCHMARKS", "order_benchmarks", "group_samples", "build_metrics", "sample_verdicts"]

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


def _diversity(problems: dict[str, list[tuple[str, bool]]], encode: Encoder, threshold: float, bar: Any) -> dict:
    """``correct_diversity``'s numbers, computed problem by problem so that each mean gets its standard error."""
    names = ("semantic_dissimilarity", "formula_uniqueness", "distinct_solutions")
    per_problem: dict[str, list[float]] = {name: [] for name in names}
    for rows in problems.values():
        texts = [text for text, ok in rows if ok]
        if len(texts) < 2:
            continue
        one = correct_diversity([texts], encode, threshold=threshold)
        for name in names:
            per_problem[name].append(float(one[name]))
        bar.update()
    counted = len(per_problem[names[0]])
    result: dict = {"problems_with_2plus_correct": counted}
    result.update({name: (sum(v) / counted if counted else None) for name, v in per_problem.items()})
    result["cluster_threshold"] = threshold
    result["stderr"] = {name: mean_stderr(v) for name, v in per_problem.items()}
    return result


def build_metrics(
    samples: Sequence[Sample],
    correct: Sequence[bool],
    *,
    encode: Encoder | None = None,
    cluster_threshold: float = DEFAULT_CLUSTER_THRESHOLD,
    k_max: int | None = None,
    progress: bool = False,
) -> dict:
    """``{method: {benchmark: {problems, samples_per_problem, mean_accuracy, pass@k, unequal_sample_counts,
    stderr, diversity}}}``; ``diversity`` is ``None`` when ``encode`` is ``None`` (diversity switched off).

    The diversity phase (one encoder call per problem with two or more correct responses) shows a
    progress bar when ``progress`` is set.
    """
    from tqdm.auto import tqdm

    grouped = group_samples(samples, correct)
    with_two = sum(
        sum(ok for _, ok in rows) >= 2
        for benchmarks in grouped.values()
        for problems in benchmarks.values()
        for rows in problems.values()
    )
    bar = tqdm(total=with_two, desc="diversity", unit="problem", disable=not progress or encode is None)
    metrics: dict = {}
    try:
        for method, benchmarks in grouped.items():
            metrics[method] = {}
            for benchmark in order_benchmarks(list(benchmarks)):
                problems = benchmarks[benchmark]
                counts = {pid: (len(rows), sum(ok for _, ok in rows)) for pid, rows in problems.items()}
                entry = benchmark_accuracy(counts, label=f"{method}/{benchmark}", k_max=k_max)
                entry["diversity"] = None if encode is None else _diversity(problems, encode, cluster_threshold, bar)
                metrics[method][benchmark] = entry
    finally:
        bar.close()
    return metrics


def sample_verdicts(samples: Sequence[Sample], correct: Sequence[bool]) -> dict[tuple[str, str], list[dict]]:
    """Per-sample records for ``--log_samples``: ``{(method, benchmark): [{problem_id, sample_index,
    prompt_hash, response, extracted_answer, ground_truth, correct, source}]}`` (as lm-evaluation-harness's
    per-sample logs: the response as scored and a hash of its prompt; ``prompt_hash`` is ``None`` for rows
    that do not record one)."""
    from verl_dsdr.scoring.correctness import extract_answer

    if len(samples) != len(correct):
        raise ValueError(f"{len(samples)} samples but {len(correct)} correctness values")
    records: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for sample, ok in zip(samples, correct):
        records[(sample.method, sample.benchmark)].append(
            {
                "problem_id": sample.problem_id,
                "sample_index": sample.sample_index,
                "prompt_hash": sample.prompt_hash,
                "response": sample.response,
                "extracted_answer": extract_answer(sample.response, sample.benchmark),
                "ground_truth": sample.ground_truth,
                "correct": bool(ok),
                "source": sample.source,
            }
        )
    return dict(records)
