"""Per-problem outcomes of the toy's final policies and method differences with bootstrap intervals.

``problem_table`` turns one run's held-out samples (16 per problem) into one row per problem:
correct count, pass@k for every k, distinct correct solution texts, and the summed token entropy
of its correct and of its incorrect responses (when the run's entropies were measured). The
paired comparison of two methods resamples twice, as the runs were made: seeds with replacement
(the same seed pairs both methods: same prompt order), then held-out problems with replacement
within each drawn seed (both methods answer the same problems). The interval is the 2.5-97.5
percentile of the resampled differences; the point estimate is the difference of the means over
seeds of the full-sample values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from verl_dsdr.assets.task import is_correct
from verl_dsdr.eval.metrics import pass_at_k

__all__ = [
    "ProblemTable",
    "problem_table",
    "Metric",
    "metric_names",
    "paired_difference",
    "method_value",
]


@dataclass(frozen=True)
class ProblemTable:
    """One run's held-out outcomes, one entry per problem, problems in sorted order.

    ``correct[p]`` of ``n`` samples; ``passk[p, k-1]`` = pass@k; ``distinct[p]`` = distinct correct
    texts; ``ent_sum_*``/``ent_n_*`` = summed mean-token entropy and count of correct / incorrect
    responses (zeros when no entropy was measured).
    """

    problems: tuple[str, ...]
    n: int
    correct: np.ndarray
    passk: np.ndarray
    distinct: np.ndarray
    ent_sum_correct: np.ndarray
    ent_n_correct: np.ndarray
    ent_sum_wrong: np.ndarray
    ent_n_wrong: np.ndarray


def problem_table(samples: Iterable[Mapping], entropies: Mapping[int, float] | None = None) -> ProblemTable:
    """Group evaluation rows by ``problem_id``; ``entropies`` maps a row's position to its entropy.

    Every problem must have the same number of samples (pass@k compares like with like).
    """
    rows = list(samples)
    by_problem: dict[str, list[tuple[int, Mapping]]] = {}
    for index, row in enumerate(rows):
        by_problem.setdefault(str(row["problem_id"]), []).append((index, row))
    if not by_problem:
        raise ValueError("no samples: the run's samples.jsonl is empty")
    sizes = {len(v) for v in by_problem.values()}
    if len(sizes) != 1:
        raise ValueError(f"problems have different sample counts {sorted(sizes)}: pass@k needs equal counts")
    n = sizes.pop()
    problems = tuple(sorted(by_problem))
    correct = np.zeros(len(problems))
    passk = np.zeros((len(problems), n))
    distinct = np.zeros(len(problems))
    sums = np.zeros((4, len(problems)))
    for p, problem in enumerate(problems):
        flags = [is_correct(str(row["response"]), str(row["ground_truth"])) for _, row in by_problem[problem]]
        c = sum(flags)
        correct[p] = c
        passk[p] = [pass_at_k(n, c, k) for k in range(1, n + 1)]
        distinct[p] = len(
            {" ".join(str(row["response"]).split()) for (_, row), ok in zip(by_problem[problem], flags) if ok}
        )
        if entropies:
            for (index, _), ok in zip(by_problem[problem], flags, strict=True):
                if index in entropies:
                    slot = 0 if ok else 2
                    sums[slot, p] += entropies[index]
                    sums[slot + 1, p] += 1
    return ProblemTable(problems, n, correct, passk, distinct, sums[0], sums[1], sums[2], sums[3])


@dataclass(frozen=True)
class Metric:
    """A per-problem numerator and denominator; the value over a set of problems is sum(num) / sum(den)."""

    name: str
    num: np.ndarray
    den: np.ndarray


def metric_names(n: int) -> list[str]:
    """Every metric ``_metrics`` gives, in report order."""
    return [f"pass@{k}" for k in range(1, n + 1)] + ["distinct_correct", "entropy_correct", "entropy_incorrect"]


def _metrics(table: ProblemTable) -> dict[str, Metric]:
    ones = np.ones(len(table.problems))
    out = {f"pass@{k}": Metric(f"pass@{k}", table.passk[:, k - 1], ones) for k in range(1, table.n + 1)}
    out["distinct_correct"] = Metric("distinct_correct", table.distinct, ones)
    out["entropy_correct"] = Metric("entropy_correct", table.ent_sum_correct, table.ent_n_correct)
    out["entropy_incorrect"] = Metric("entropy_incorrect", table.ent_sum_wrong, table.ent_n_wrong)
    return out


def method_value(tables: Sequence[ProblemTable], name: str) -> float | None:
    """Mean over seeds of a metric's full-sample value (None when no seed defines it)."""
    values = []
    for table in tables:
        metric = _metrics(table)[name]
        if metric.den.sum() > 0:
            values.append(float(metric.num.sum() / metric.den.sum()))
    return float(np.mean(values)) if values else None


def paired_difference(
    a: Mapping[int, ProblemTable],
    b: Mapping[int, ProblemTable],
    name: str,
    *,
    resamples: int = 4000,
    seed: int = 0,
) -> dict | None:
    """``a - b`` for metric ``name`` over the seeds both have: point estimate and 95% bootstrap interval.

    Returns ``{"diff", "low", "high", "seeds", "problems"}``, or None when no shared seed defines the
    metric (e.g. no incorrect response anywhere). Both tables of a seed must list the same problems.
    """
    seeds = sorted(set(a) & set(b))
    pairs = []
    for s in seeds:
        if a[s].problems != b[s].problems:
            raise ValueError(f"seed {s}: the two runs were evaluated on different problems")
        ma, mb = _metrics(a[s])[name], _metrics(b[s])[name]
        if ma.den.sum() > 0 and mb.den.sum() > 0:
            pairs.append((ma, mb))
    if not pairs:
        return None
    point = float(np.mean([ma.num.sum() / ma.den.sum() - mb.num.sum() / mb.den.sum() for ma, mb in pairs]))
    rng = np.random.default_rng(seed)
    n_problems = len(pairs[0][0].num)
    nums = np.stack([np.stack([ma.num, mb.num]) for ma, mb in pairs])  # (seeds, 2, problems)
    dens = np.stack([np.stack([ma.den, mb.den]) for ma, mb in pairs])
    # Each of the len(pairs) draws per resample picks a seed, then resamples that seed's problems afresh.
    picks = rng.integers(0, len(pairs), size=(resamples, len(pairs)))
    total = np.zeros(resamples)
    for i in range(len(pairs)):
        weights = rng.multinomial(n_problems, np.full(n_problems, 1.0 / n_problems), size=resamples).astype(float)
        num = np.einsum("rp,smp->rsm", weights, nums)  # (resamples, seeds, 2)
        den = np.einsum("rp,smp->rsm", weights, dens)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = num / den
        chosen = value[np.arange(resamples), picks[:, i]]  # (resamples, 2)
        total += chosen[:, 0] - chosen[:, 1]
    diffs = total / len(pairs)
    diffs = diffs[np.isfinite(diffs)]
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"diff": point, "low": float(low), "high": float(high), "seeds": len(pairs), "problems": n_problems}
