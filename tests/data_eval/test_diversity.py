"""Diversity of correct responses: clustering and the per-problem averages, with hand-set embeddings."""

import numpy as np
import pytest

from verl_dsdr.eval.diversity import correct_diversity, count_clusters


def fake_encoder(table):
    """Deterministic embeddings chosen by hand: each text maps to a fixed unit vector."""
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.array([table[t] for t in texts], dtype=np.float32)

    encode.calls = calls
    return encode


def test_count_clusters_threshold():
    e = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    # cos(e0,e2) = 0.6, cos(e2,e3) = 0.8, cos(e0,e3) = 0
    assert count_clusters(e, 0.99) == 3  # {e0,e1}, {e2}, {e3}
    # at 0.7: {e2,e3} merge (0.8); {e0,e1} vs {e2,e3}: mean cos = (0.6+0+0.6+0)/4 = 0.3 < 0.7
    assert count_clusters(e, 0.7) == 2
    # at 0.3 the average link 0.3 is reached exactly: one cluster
    assert count_clusters(e, 0.3) == 1
    assert count_clusters(e[:1], 0.9) == 1
    assert count_clusters(np.zeros((0, 2)), 0.9) == 0
    with pytest.raises(ValueError):
        count_clusters(e, 1.5)


def test_count_clusters_is_order_independent():
    # A chain: cos(e0,e1) = cos(e1,e2) = 0.8, cos(e0,e2) = 0.28. Greedy leader clustering at 0.75 gives
    # 1 cluster when e1 leads and 2 when e0 leads; average linkage merges one pair (0.8), then the third
    # point's mean similarity (0.8 + 0.28)/2 = 0.54 < 0.75: always 2.
    e = np.array([[1.0, 0.0], [0.8, 0.6], [0.28, 0.96]])
    counts = {count_clusters(e[list(p)], 0.75) for p in ([0, 1, 2], [1, 0, 2], [2, 1, 0])}
    assert counts == {2}


def test_correct_diversity_by_hand():
    r1, r2, r3 = "Use $x+1$ then \\boxed{4}", "Use $x+1$ and $y$ then \\boxed{4}", "Use $z$ then \\boxed{4}"
    r4, r5, r6 = "\\boxed{7}", "We get $7$. \\boxed{7}", "\\boxed{9}"
    enc = fake_encoder({r1: [1, 0, 0], r2: [1, 0, 0], r3: [0, 1, 0], r4: [1, 0, 0], r5: [0.6, 0.8, 0]})
    out = correct_diversity([[r1, r2, r3], [r4, r5], [r6], []], enc, threshold=0.9)
    # problem 1: D_emb r1 = mean(0, 0.5) = 0.25, r2 = 0.25, r3 = mean(0.5, 0.5) = 0.5 -> 1/3
    #            D_eq  r1 = 0/2 (x+1 and 4 shared), r2 = 1/3 (y), r3 = 1/2 (z) -> (0 + 1/3 + 1/2)/3 = 5/18
    #            clusters at 0.9: {r1, r2}, {r3} -> 2
    # problem 2: D_emb each (1 - 0.6)/2 = 0.2 -> 0.2; D_eq both {7} -> 0; cos 0.6 < 0.9 -> 2 clusters
    # problem 3 (one correct) and 4 (none) are skipped
    assert out["problems_with_2plus_correct"] == 2
    assert out["semantic_dissimilarity"] == pytest.approx((1 / 3 + 0.2) / 2, abs=1e-6)
    assert out["formula_uniqueness"] == pytest.approx((5 / 18 + 0) / 2, abs=1e-6)
    assert out["distinct_solutions"] == pytest.approx(2.0)
    assert out["cluster_threshold"] == 0.9
    assert enc.calls == [[r1, r2, r3, r4, r5]]  # one batched call, skipped problems not embedded


def test_correct_diversity_without_eligible_problem():
    enc = fake_encoder({})
    out = correct_diversity([["\\boxed{1}"], []], enc)
    assert out["problems_with_2plus_correct"] == 0
    assert out["semantic_dissimilarity"] is None and out["formula_uniqueness"] is None
    assert out["distinct_solutions"] is None
    assert enc.calls == []
