"""Global diversity scores: Eq. 4-6 (semantic), Eq. 7-8 (formula), Eq. 9 (combined)."""

import math

import numpy as np
import pytest
import torch

from verl_dsdr.algorithms import FormulaKeys, formula_uniqueness, global_diversity, semantic_diversity

# Three 2-D directions: z1=(1,0), z2=(0,1), z3=(-1,0).
# d(1,2) = (1-0)/2 = 0.5, d(1,3) = (1-(-1))/2 = 1, d(2,3) = (1-0)/2 = 0.5.
TRIANGLE = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]


def test_semantic_hand_values_and_scale_invariance():
    d = semantic_diversity(torch.tensor(TRIANGLE), ["g", "g", "g"])
    # D1 = (0.5 + 1)/2 = 0.75, D2 = (0.5 + 0.5)/2 = 0.5, D3 = (1 + 0.5)/2 = 0.75
    torch.testing.assert_close(d, torch.tensor([0.75, 0.5, 0.75]))
    for scale in (1e-30, 3.0, 1e30):
        scaled = semantic_diversity(np.array(TRIANGLE) * scale, ["g", "g", "g"])
        torch.testing.assert_close(scaled, torch.tensor([0.75, 0.5, 0.75]))
    assert d.dtype == torch.float32


def test_semantic_groups_are_separate_and_singletons_get_zero():
    emb = torch.tensor(TRIANGLE + [[0.0, 1.0]])
    d = semantic_diversity(emb, ["a", "a", "b", "c"])
    # group a: d(1,2) = 0.5 for both; b and c are singletons -> 0
    torch.testing.assert_close(d, torch.tensor([0.5, 0.5, 0.0, 0.0]))


def test_semantic_identical_and_zero_embeddings():
    same = semantic_diversity(torch.ones(4, 8) * 0.3, [1] * 4)
    torch.testing.assert_close(same, torch.zeros(4), atol=1e-6, rtol=0)
    # A zero embedding stays zero after normalisation: z0 . z1 = 0 -> distance 1/2, no NaN.
    d = semantic_diversity(torch.tensor([[0.0, 0.0], [2.0, 0.0]]), ["q", "q"])
    torch.testing.assert_close(d, torch.tensor([0.5, 0.5]))
    all_zero = semantic_diversity(torch.zeros(3, 4), ["q"] * 3)
    torch.testing.assert_close(all_zero, torch.full((3,), 0.5))


def test_semantic_peer_mask():
    emb = torch.tensor(TRIANGLE)
    d = semantic_diversity(emb, ["g"] * 3, peer_mask=[True, False, True])
    # peers of 1: {3} -> 1; of 2: {1,3} -> (0.5+0.5)/2 = 0.5; of 3: {1} -> 1
    torch.testing.assert_close(d, torch.tensor([1.0, 0.5, 1.0]))
    d = semantic_diversity(emb, ["g"] * 3, peer_mask=torch.tensor([True, False, False]))
    # 1 has no peer left -> 0; 2 -> d(2,1) = 0.5; 3 -> d(3,1) = 1
    torch.testing.assert_close(d, torch.tensor([0.0, 0.5, 1.0]))


def test_semantic_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN or inf"):
        semantic_diversity(torch.tensor([[math.nan, 0.0], [1.0, 0.0]]), ["a", "a"])
    with pytest.raises(ValueError, match="B=3"):
        semantic_diversity(torch.zeros(2, 4), ["a", "a", "a"])
    with pytest.raises(ValueError, match=r"\[B, dim\]"):
        semantic_diversity(torch.zeros(4), ["a"] * 4)
    assert semantic_diversity(torch.zeros(0, 4), []).shape == (0,)


def test_formula_hand_values():
    sets = [{"x", "y"}, {"x"}, set(), ["y", "y", "q"], {"q"}, {"z"}]
    d = formula_uniqueness(sets, np.array(["a", "a", "a", "c", "c", "s"], dtype=object))
    # group a: S0 = {x, y}: y unique, x shared -> 1/2; S1 = {x} shared -> 0; S2 empty -> 0
    # group c: S3 = {y, q} (duplicate y counts once): y unique -> 1/2; S4 = {q} -> 0
    # group s: singleton -> 0
    torch.testing.assert_close(d, torch.tensor([0.5, 0.0, 0.0, 0.5, 0.0, 0.0]))
    assert d.dtype == torch.float32


def test_formula_packed_keys_give_the_hand_values():
    # The sets of test_formula_hand_values packed: x=0, y=1, q=2, z=3 (what the wire hands the group step).
    packed = FormulaKeys(sizes=np.array([2, 1, 0, 2, 1, 1]), ids=np.array([0, 1, 0, 1, 2, 2, 3]))
    d = formula_uniqueness(packed, np.array(["a", "a", "a", "c", "c", "s"], dtype=object))
    torch.testing.assert_close(d, torch.tensor([0.5, 0.0, 0.0, 0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="FormulaKeys must hold 2 sizes"):
        formula_uniqueness(FormulaKeys(np.array([1, 1, 1]), np.array([0, 1, 2])), ["a", "a"])
    with pytest.raises(ValueError, match="sum\\(sizes\\) non-negative ids"):
        formula_uniqueness(FormulaKeys(np.array([1, 1]), np.array([0])), ["a", "a"])


def test_formula_keys_are_compared_only_within_a_group():
    # Same keys in different groups do not cancel: each rollout's formulas are new to its peers.
    d = formula_uniqueness([{"x"}, {"y"}, {"x"}, {"y"}], ["a", "a", "b", "b"])
    torch.testing.assert_close(d, torch.ones(4))


def test_formula_identical_and_empty_sets():
    same = formula_uniqueness([frozenset({"a", "b"})] * 3, [0, 0, 0])
    torch.testing.assert_close(same, torch.zeros(3))
    empty = formula_uniqueness([set(), [], ()], [0, 0, 0])
    torch.testing.assert_close(empty, torch.zeros(3))


def test_formula_peer_mask():
    sets = [{"x", "y"}, {"x"}, {"y", "z"}]
    d = formula_uniqueness(sets, ["g"] * 3, peer_mask=[True, False, True])
    # peers of 0: {2} -> keys {y,z}: x unique, y not -> 1/2
    # peers of 1: {0,2} -> x in S0 -> 0
    # peers of 2: {0} -> keys {x,y}: z unique -> 1/2
    torch.testing.assert_close(d, torch.tensor([0.5, 0.0, 0.5]))
    d = formula_uniqueness(sets, ["g"] * 3, peer_mask=[True, False, False])
    # 0 has no peer -> 0 (documented choice); 1 vs {x,y}: 0; 2 vs {x,y}: z unique -> 1/2
    torch.testing.assert_close(d, torch.tensor([0.0, 0.0, 0.5]))


def test_formula_rejects_strings_and_length_mismatch():
    with pytest.raises(TypeError, match=r"formula_sets\[1\]"):
        formula_uniqueness([{"x"}, "x+1"], ["a", "a"])
    with pytest.raises(ValueError, match="3 entries but index has 2"):
        formula_uniqueness([{"x"}] * 3, ["a", "a"])


def test_global_diversity_weighting():
    s = torch.tensor([0.2, 0.8])
    f = torch.tensor([1.0, 0.0])
    # 0.5*0.2 + 0.5*1.0 = 0.6 ; 0.5*0.8 + 0.5*0 = 0.4
    torch.testing.assert_close(global_diversity(s, f, weight=0.5), torch.tensor([0.6, 0.4]))
    # weight 0.25: 0.25*0.2 + 0.75*1 = 0.8 ; 0.25*0.8 = 0.2
    torch.testing.assert_close(global_diversity(s, f, weight=0.25), torch.tensor([0.8, 0.2]))
    torch.testing.assert_close(global_diversity(s, f, weight=0.0), f)
    for bad in (-0.1, 1.5, "half"):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            global_diversity(s, f, weight=bad)
    with pytest.raises(ValueError, match="formula must have shape"):
        global_diversity(s, torch.zeros(3), weight=0.5)
