"""The torch-only baselines (GRPO advantage, PPO-clip, loss aggregation) by hand; tests/glue checks them against verl."""

import pytest
import torch

from verl_dsdr.algorithms.baselines import aggregate, grpo_advantages, ppo_clip_loss


def test_aggregation_modes_by_hand():
    loss_mat = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    # row means over valid tokens: (1+2)/2 = 1.5, (4+5+6)/3 = 5; the empty row is excluded: (1.5+5)/2 = 3.25
    assert aggregate(loss_mat, mask, "seq-mean-token-mean").item() == pytest.approx(3.25, abs=1e-6)
    # token-mean: (1+2+4+5+6)/5 = 3.6 ; token-sum: 18 ; seq-mean-token-sum: (3 + 15)/2 = 9
    assert aggregate(loss_mat, mask, "token-mean").item() == pytest.approx(3.6, abs=1e-6)
    assert aggregate(loss_mat, mask, "token-sum").item() == pytest.approx(18.0, abs=1e-6)
    assert aggregate(loss_mat, mask, "seq-mean-token-sum").item() == pytest.approx(9.0, abs=1e-6)
    with pytest.raises(ValueError, match="mode"):
        aggregate(loss_mat, mask, "seq-sum")


def test_grpo_normalisation_by_hand():
    rewards = torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    mask = torch.ones(5, 2)
    index = ["a", "a", "a", "a", "b"]
    adv = grpo_advantages(rewards, mask, index)
    # group a scores 1, 0, 0, 1: mean 0.5, unbiased std sqrt(4 * 0.25 / 3) = 0.5773503;
    # advantages +-0.5 / (0.5773503 + 1e-6) = +-0.8660239. Group b has one member: mean 0, std 1 -> 1 / (1 + 1e-6).
    expected = torch.tensor([0.8660239, -0.8660239, -0.8660239, 0.8660239, 0.999999])
    assert torch.allclose(adv[:, 0], expected, atol=1e-6)
    assert torch.equal(adv[:, 0], adv[:, 1])
    centred = grpo_advantages(rewards, mask, index, norm_by_std=False)
    assert torch.allclose(centred[:, 0], torch.tensor([0.5, -0.5, -0.5, 0.5, 1.0]))


def test_ppo_clip_by_hand():
    # ratio e^{0.5} = 1.6487 with A = +1: clipped at 1 + 0.28 -> loss -1.28; ratio e^{-1} = 0.3679 with A = -1:
    # max(0.3679, 0.8) = 0.8, dual clip min(3, 0.8) = 0.8. token-mean over 2 tokens: (-1.28 + 0.8) / 2 = -0.24.
    old = torch.zeros(2, 1)
    log_prob = torch.tensor([[0.5], [-1.0]])
    adv = torch.tensor([[1.0], [-1.0]])
    loss, metrics = ppo_clip_loss(log_prob, old, adv, torch.ones(2, 1), clip_low=0.2, clip_high=0.28)
    assert loss.item() == pytest.approx(-0.24, abs=1e-6)
    assert metrics["pg_clipfrac"].item() == pytest.approx(1.0, abs=1e-6)  # both tokens clipped
