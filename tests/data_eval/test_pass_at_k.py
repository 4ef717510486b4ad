"""pass@k against closed forms computed by hand, and the per-benchmark aggregate."""

import math
import warnings

import pytest

from verl_dsdr.eval.metrics import UnequalSamplesWarning, benchmark_accuracy, k_values, pass_at_k


def test_pass_at_k_n16_c3_k4():
    # 1 - C(13,4)/C(16,4) = 1 - 715/1820 = 1 - 0.392857... = 0.607142857...
    assert pass_at_k(16, 3, 4) == pytest.approx(1 - 715 / 1820, abs=1e-12)
    assert pass_at_k(16, 3, 4) == pytest.approx(1 - math.comb(13, 4) / math.comb(16, 4), abs=1e-12)


def test_pass_at_k_edges():
    assert pass_at_k(16, 0, 4) == 0.0  # no correct sample: never passes
    assert pass_at_k(16, 16, 4) == 1.0  # all correct
    assert pass_at_k(5, 3, 3) == 1.0  # n - c = 2 < k = 3: every 3-subset holds a correct one
    # 1 - C(2,2)/C(5,2) = 1 - 1/10
    assert pass_at_k(5, 3, 2) == pytest.approx(0.9, abs=1e-12)
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0


@pytest.mark.parametrize("n, c", [(16, 3), (7, 0), (7, 7), (64, 13)])
def test_pass_at_1_is_c_over_n(n, c):
    assert pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-12)


def test_large_n_is_stable():
    # 1 - C(1000-1, 500)/C(1000, 500) = 1 - 500/1000 (a single correct sample is in half the subsets)
    assert pass_at_k(1000, 1, 500) == pytest.approx(0.5, abs=1e-12)
    value = pass_at_k(100_000, 50_000, 64)
    assert 0.0 <= value <= 1.0 and value == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n, c, k", [(4, 1, 5), (4, 5, 2), (-1, 0, 1), (4, -1, 1), (4, 1, -2), (4, 1, 0)])
def test_pass_at_k_refuses_bad_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_pass_at_k_refuses_non_integers():
    with pytest.raises(TypeError):
        pass_at_k(4.0, 1, 1)


def test_k_values():
    assert k_values(1) == [1]
    assert k_values(16) == list(range(1, 17))  # the whole curve, as the README promises (k = 1..16)
    assert k_values(3) == [1, 2, 3]


def test_benchmark_accuracy_equal_counts():
    counts = {"a": (4, 4), "b": (4, 1), "c": (4, 0)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = benchmark_accuracy(counts, label="x")
    assert m["problems"] == 3 and m["samples_per_problem"] == 4
    assert m["mean_accuracy"] == pytest.approx(5 / 12)  # (4 + 1 + 0) / 12
    # pass@2: a -> 1; b -> 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5; c -> 0; mean 1.5/3 = 0.5
    # pass@3: a 1; b 1 - C(3,3)/C(4,3) = 3/4; c 0 -> 7/12
    assert m["pass@k"] == pytest.approx({"1": 5 / 12, "2": 0.5, "3": 7 / 12, "4": 2 / 3})
    assert m["unequal_sample_counts"] == {}


def test_benchmark_accuracy_unequal_counts_warns_and_uses_own_n():
    counts = {"a": (4, 2), "b": (2, 1)}
    with pytest.warns(UnequalSamplesWarning, match=r"n = 2 for 1 of 2 problems, other n for 1 \(a=4\)"):
        m = benchmark_accuracy(counts, label="m/bench")
    assert m["samples_per_problem"] == 2  # the minimum
    assert m["unequal_sample_counts"] == {"a": 4, "b": 2}
    assert m["mean_accuracy"] == pytest.approx(3 / 6)  # pooled: (2 + 1) / (4 + 2)
    # pass@1 = mean(2/4, 1/2) = 0.5; pass@2: a -> 1 - C(2,2)/C(4,2) = 5/6, b -> 1 - C(1,2)/C(2,2) = 1; mean 11/12
    assert m["pass@k"] == pytest.approx({"1": 0.5, "2": 11 / 12})


def test_benchmark_accuracy_k_max():
    m = benchmark_accuracy({"a": (8, 1)}, k_max=2)
    assert list(m["pass@k"]) == ["1", "2"]
