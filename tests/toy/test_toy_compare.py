"""Per-problem tables, paired bootstrap differences and token entropy, against values computed by hand."""

import math

import numpy as np
import pytest
import torch

from verl_dsdr.toy.compare import method_value, paired_difference, problem_table
from verl_dsdr.toy.entropy import mean_token_entropy

RIGHT = "4 * 2 = 8, then 3 + 8 = 11. The answer is \\boxed{11}."
RIGHT_2 = "$3 + 4 \\times 2 = 3 + 8 = 11$, so the answer is \\boxed{11}."
WRONG = "3 + 4 = 7, then 7 * 2 = 14. The answer is \\boxed{14}."


def _rows(problem: str, truth: str, responses: list[str]) -> list[dict]:
    return [{"problem_id": problem, "ground_truth": truth, "response": r} for r in responses]


def _table(counts: list[int], n: int = 4, entropies=None):
    """Problems p0, p1, ... with counts[p] correct responses (of n), all written RIGHT."""
    rows = []
    for p, c in enumerate(counts):
        rows += _rows(f"p{p}", "11", [RIGHT] * c + [WRONG] * (n - c))
    return problem_table(rows, entropies)


def test_problem_table_by_hand():
    rows = _rows("Compute 3 + 4 * 2.", "11", [RIGHT, WRONG, RIGHT_2, RIGHT + " "])
    rows += _rows("Compute 2 + 2 * 2.", "6", [WRONG, WRONG, WRONG, WRONG])
    entropies = {0: 0.2, 1: 1.0, 2: 0.4, 3: 0.6, 4: 2.0, 5: 2.0, 6: 1.0, 7: 1.0}
    table = problem_table(rows, entropies)
    assert table.problems == ("Compute 2 + 2 * 2.", "Compute 3 + 4 * 2.") and table.n == 4
    assert table.correct.tolist() == [0, 3]
    # pass@k = 1 - C(n - c, k) / C(n, k): c = 3 of 4 -> 3/4, then 1 for k >= 2
    assert table.passk[1].tolist() == [0.75, 1.0, 1.0, 1.0] and table.passk[0].tolist() == [0, 0, 0, 0]
    assert table.distinct.tolist() == [0, 2]  # trailing space is the same text
    assert method_value([table], "pass@1") == pytest.approx(0.375)
    assert method_value([table], "entropy_correct") == pytest.approx((0.2 + 0.4 + 0.6) / 3)
    assert method_value([table], "entropy_incorrect") == pytest.approx((1.0 + 6.0) / 5)
    with pytest.raises(ValueError, match="different sample counts"):
        problem_table(rows[:-1])


def test_paired_difference_point_estimate_and_interval():
    a = {0: _table([4, 4, 0, 2]), 1: _table([4, 2, 2, 2])}
    b = {0: _table([2, 2, 0, 2]), 1: _table([2, 2, 2, 2])}
    result = paired_difference(a, b, "pass@1", resamples=2000)
    # seed 0: (1 + 1 + 0 + .5)/4 - (.5 + .5 + 0 + .5)/4 = 0.25; seed 1: 0.625 - 0.5 = 0.125
    assert result["diff"] == pytest.approx(0.1875)
    assert result["seeds"] == 2 and result["problems"] == 4
    assert result["low"] <= result["diff"] <= result["high"]
    assert result["low"] >= 0.0 - 1e-12  # a is never below b on any problem
    same = paired_difference(a, a, "pass@1", resamples=500)
    assert same["diff"] == same["low"] == same["high"] == 0.0


def test_paired_difference_interval_covers_seed_spread():
    rng = np.random.default_rng(3)
    a, b = {}, {}
    for s in range(3):
        a[s] = _table(list(rng.integers(0, 5, size=40)))
        b[s] = _table(list(rng.integers(0, 5, size=40)))
    result = paired_difference(a, b, "pass@1", resamples=3000, seed=1)
    per_seed = [method_value([a[s]], "pass@1") - method_value([b[s]], "pass@1") for s in range(3)]
    assert result["diff"] == pytest.approx(np.mean(per_seed))
    assert result["low"] < min(per_seed) + 0.05 and result["high"] > max(per_seed) - 0.05
    assert result["high"] - result["low"] > 0.02  # noise gives a real interval


def test_paired_difference_is_none_without_values_and_refuses_other_problems():
    a = {0: _table([4, 4])}
    assert paired_difference(a, a, "entropy_correct") is None  # no entropies measured
    other = {0: problem_table(_rows("q", "11", [RIGHT] * 4) + _rows("r", "11", [RIGHT] * 4))}
    with pytest.raises(ValueError, match="different problems"):
        paired_difference(a, other, "pass@1")


def test_mean_token_entropy_by_hand():
    logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens: entropy ln 4
    logits[0, 1] = torch.tensor([100.0, 0.0, 0.0, 0.0])  # one-hot: entropy 0
    mask = torch.tensor([[True, True, False]])
    assert mean_token_entropy(logits, mask).item() == pytest.approx(math.log(4) / 2, abs=1e-6)
    assert mean_token_entropy(logits, torch.zeros(1, 3, dtype=torch.bool)).item() == 0.0
