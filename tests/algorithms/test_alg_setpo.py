"""SetPO peer method: set diversity, leave-one-out contributions, shaped advantages."""

import math

import pytest
import torch

from verl_dsdr.algorithms import setpo_contributions, setpo_set_diversity, setpo_shaped_advantages


def _brute_force_set_diversity(z: torch.Tensor) -> float:
    """D(S) = mean_i -log(1 + mean_j k(y_i, y_j)), k = clamp(cos, 0, 1), k(y, y) = 1; plain loops."""
    n = z.shape[0]
    total = 0.0
    for i in range(n):
        sims = []
        for j in range(n):
            if i == j:
                sims.append(1.0)
            else:
                a, b = z[i].double(), z[j].double()
                cos = float(a @ b / (a.norm() * b.norm())) if a.norm() > 0 and b.norm() > 0 else 0.0
                sims.append(min(max(cos, 0.0), 1.0))
        total += -math.log1p(sum(sims) / n)
    return total / n


def test_hand_values_orthogonal_and_identical_pairs():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [1.0, 1.0]])
    index = ["orth", "orth", "same", "same"]
    # orthogonal pair: K = I, mean sim 1/2 -> D(S) = -log 1.5 = -0.405465 ; D({y}) = -log 2
    # -> s = -log 1.5 + log 2 = log(4/3) = 0.287682
    # identical pair: K = 1 -> D(S) = -log 2 = D({y}) -> s = 0
    torch.testing.assert_close(setpo_set_diversity(emb, index), torch.tensor([-math.log(1.5), -math.log(2)]))
    torch.testing.assert_close(setpo_contributions(emb, index), torch.tensor([math.log(4 / 3)] * 2 + [0.0] * 2))


def test_singleton_and_zero_embedding():
    emb = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    s = setpo_contributions(emb, ["a", "a", "b"])
    # zero vector: k = 0 to the other, k(y, y) = 1 -> same as the orthogonal pair: log(4/3) each;
    # the singleton gets 0 (documented choice).
    torch.testing.assert_close(s, torch.tensor([math.log(4 / 3), math.log(4 / 3), 0.0]))
    torch.testing.assert_close(setpo_set_diversity(emb, ["a", "a", "b"]), torch.tensor([-math.log(1.5), -math.log(2)]))


@pytest.mark.parametrize("size", range(1, 9))
def test_closed_form_equals_brute_force(size):
    gen = torch.Generator().manual_seed(size)
    # two groups of the given size, interleaved, plus a lone sample, to exercise the layout
    emb = torch.randn(2 * size + 1, 6, generator=gen)
    emb[1] = emb[3 % emb.shape[0]] * 2.0  # a duplicate direction
    index = [f"g{i % 2}" for i in range(2 * size)] + ["lone"]
    got = setpo_contributions(emb, index)
    div = setpo_set_diversity(emb, index)
    for gi, name in enumerate(["g0", "g1"]):
        members = [b for b, u in enumerate(index) if u == name]
        z = emb[members]
        full = _brute_force_set_diversity(z)
        assert div[gi].item() == pytest.approx(full, abs=1e-5)
        for pos, b in enumerate(members):
            if size == 1:
                expected = 0.0
            else:
                rest = torch.cat([z[:pos], z[pos + 1 :]])
                expected = full - _brute_force_set_diversity(rest)
            assert got[b].item() == pytest.approx(expected, abs=1e-5)
    assert got[-1].item() == 0.0


def _cluster_with(angle: float) -> torch.Tensor:
    """Four near-identical rollouts around (1, 0) and one at ``angle`` radians from them."""
    cluster = torch.tensor([[1.0, 0.0], [1.0, 0.01], [1.0, -0.01], [1.0, 0.02]])
    return torch.cat([cluster, torch.tensor([[math.cos(angle), math.sin(angle)]])])


def test_isolated_rollout_gets_the_largest_contribution():
    s = setpo_contributions(_cluster_with(1.2), ["g"] * 5)
    assert int(s.argmax()) == 4
    assert (s[4] > s[:4] + 0.05).all()


def test_moving_away_increases_the_contribution():
    angles = [0.1, 0.3, 0.6, 0.9, 1.2, 1.5]
    values = [setpo_contributions(_cluster_with(a), ["g"] * 5)[4].item() for a in angles]
    assert all(b > a for a, b in zip(values, values[1:])), values


def test_shaped_advantages():
    a = torch.tensor([0.5, -0.5, 1.0])
    s = torch.tensor([0.2, 0.1, -0.4])
    # A + 2 s = 0.9, -0.3, 0.2
    torch.testing.assert_close(setpo_shaped_advantages(a, s, lambda_=2.0, correct=None), torch.tensor([0.9, -0.3, 0.2]))
    # correct-only: only rollouts 0 and 2 get the term -> 0.9, -0.5, 0.2
    out = setpo_shaped_advantages(a, s, correct=[True, False, True], lambda_=2.0)
    torch.testing.assert_close(out, torch.tensor([0.9, -0.5, 0.2]))
    # token level: s broadcast over tokens, padding zeroed: [[0.5+0.2, 0.7], [-0.5+0.1, 0]]
    tok = torch.tensor([[0.5, 0.5], [-0.5, -0.5]])
    out = setpo_shaped_advantages(tok, s[:2], response_mask=torch.tensor([[1, 1], [1, 0]]), lambda_=1.0, correct=None)
    torch.testing.assert_close(out, torch.tensor([[0.7, 0.7], [-0.4, 0.0]]))
    with pytest.raises(ValueError, match="contributions must have shape"):
        setpo_shaped_advantages(a, s[:2], lambda_=1.0, correct=None)
