"""Accuracy metrics: the unbiased pass@k estimator, per-benchmark aggregates and their standard errors.

pass@k for one problem with ``n`` samples of which ``c`` are correct is
``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021). The ratio of binomials is evaluated as the
product ``prod_{i=n-c+1}^{n} (1 - k / i)``: ``c`` factors in (0, 1], no huge integers, no overflow.

Standard errors treat the problems as the sample (a benchmark is a draw of problems; the samples of
one problem are not independent of each other):
- a mean over problems of per-problem values ``x_1..x_P`` (pass@k, diversity):
  ``SE = s / sqrt(P)`` with ``s`` the sample standard deviation (``ddof = 1``), as
  lm-evaluation-harness's ``mean_stderr``;
- the pooled accuracy ``p = sum c_i / sum n_i`` (a ratio of two sums over problems): the
  cluster-robust ratio estimator ``SE = sqrt(sum_i (c_i - p n_i)^2 / (P (P - 1))) / mean(n_i)``,
  which equals the first formula applied to ``c_i / n_i`` when every ``n_i`` is the same.
Both are ``None`` with fewer than two problems.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

__all__ = [
    "pass_at_k",
    "k_values",
    "benchmark_accuracy",
    "mean_stderr",
    "ratio_stderr",
    "unequal_message",
    "UnequalSamplesWarning",
]

SHOWN_PROBLEMS = 10
"""At most this many problems are named in the unequal-samples line."""


class UnequalSamplesWarning(UserWarning):
    """Problems of one benchmark were sampled a different number of times."""


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn without replacement from ``n`` (``c`` correct) is correct.

    Raises ``ValueError`` for negative values, ``k < 1``, ``k > n`` (the estimator needs ``n >= k``
    samples) and ``c > n``.
    """
    n, c, k = _check_count("n", n), _check_count("c", c), _check_count("k", k)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"k={k} > n={n}: pass@k needs at least k samples per problem")
    if c > n:
        raise ValueError(f"c={c} correct out of n={n} samples is impossible")
    if n - c < k:
        return 1.0  # every k-subset contains a correct sample
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def k_values(n: int) -> list[int]:
    """The k reported for ``n`` samples: every k = 1..n (the whole curve; each costs O(c) per problem)."""
    if _check_count("n", n) < 1:
        raise ValueError("n must be >= 1")
    return list(range(1, n + 1))


def unequal_message(label: str, ns: Mapping[str, int]) -> str:
    """One line naming the problems whose sample count differs from the most common one, and their counts."""
    common = max(sorted(set(ns.values())), key=list(ns.values()).count)
    odd = {pid: n for pid, n in sorted(ns.items()) if n != common}
    shown = ", ".join(f"{pid}={n}" for pid, n in list(odd.items())[:SHOWN_PROBLEMS])
    more = f" and {len(odd) - SHOWN_PROBLEMS} more" if len(odd) > SHOWN_PROBLEMS else ""
    return (
        f"{label}: unequal samples per problem: n = {common} for {len(ns) - len(odd)} of {len(ns)} problems, "
        f"other n for {len(odd)} ({shown}{more}); pass@k uses each problem's own n and k <= {min(ns.values())}"
    )


def mean_stderr(values: Sequence[float]) -> float | None:
    """Standard error of the mean of ``values`` (sample standard deviation / sqrt(len)); None for < 2 values."""
    count = len(values)
    if count < 2:
        return None
    mean = sum(values) / count
    variance = sum((v - mean) ** 2 for v in values) / (count - 1)
    return math.sqrt(variance / count)


def ratio_stderr(counts: Sequence[tuple[int, int]]) -> float | None:
    """Standard error of ``sum c / sum n`` over problems ``(n, c)``, clustered by problem; None for < 2 problems."""
    problems = len(counts)
    if problems < 2:
        return None
    total_n = sum(n for n, _ in counts)
    p = sum(c for _, c in counts) / total_n
    spread = sum((c - p * n) ** 2 for n, c in counts) / (problems * (problems - 1))
    return math.sqrt(spread) / (total_n / problems)


def benchmark_accuracy(counts: Mapping[str, tuple[int, int]], *, label: str = "", k_max: int | None = None) -> dict:
    """Aggregate ``{problem_id: (n, c)}`` of one method on one benchmark.

    Every problem uses its own ``n`` in the estimator and counts equally in pass@k (so pass@1 is
    the mean over problems of ``c/n``); ``mean_accuracy`` is the accuracy over all samples pooled
    (``sum c / sum n``, Avg@n). The two agree when every problem has the same ``n``. With unequal ``n``
    the k values stop at the smallest ``n`` (so each problem has an unbiased estimate),
    ``samples_per_problem`` is that minimum, ``unequal_sample_counts`` lists every problem's ``n``,
    and an :class:`UnequalSamplesWarning` is emitted. ``k_max`` drops larger k (k=1 is always kept).
    ``stderr`` holds the standard error of every mean (module docstring).
    """
    if not counts:
        raise ValueError(f"{label or 'benchmark'}: no problems")
    ns = {pid: n for pid, (n, _) in counts.items()}
    n_min, n_max = min(ns.values()), max(ns.values())
    unequal: dict[str, int] = {}
    if n_min != n_max:
        unequal = dict(sorted(ns.items()))
        warnings.warn(unequal_message(label, ns), UnequalSamplesWarning, stacklevel=2)
    problems = len(counts)
    mean_accuracy = sum(c for _, c in counts.values()) / sum(ns.values())
    ks = [k for k in k_values(n_min) if k == 1 or k_max is None or k <= k_max]
    per_problem = {k: [pass_at_k(n, c, k) for n, c in counts.values()] for k in ks}
    return {
        "problems": problems,
        "samples_per_problem": n_min,
        "mean_accuracy": mean_accuracy,
        "pass@k": {str(k): sum(values) / problems for k, values in per_problem.items()},
        "unequal_sample_counts": unequal,
        "stderr": {
            "mean_accuracy": ratio_stderr(list(counts.values())),
            "pass@k": {str(k): mean_stderr(values) for k, values in per_problem.items()},
        },
    }
