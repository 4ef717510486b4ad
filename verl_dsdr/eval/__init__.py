"""Evaluation: score sampled responses, pass@k, diversity of correct solutions, reports
(``python -m verl_dsdr.eval --help``). No verl import: runs wherever the samples are.
"""

from verl_dsdr.eval.metrics import UnequalSamplesWarning, benchmark_accuracy, k_values, pass_at_k

__all__ = ["UnequalSamplesWarning", "benchmark_accuracy", "k_values", "pass_at_k"]
