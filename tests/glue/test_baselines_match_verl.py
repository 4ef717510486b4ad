"""The torch-only baselines equal verl's own GRPO, PPO-clip and agg_loss (what the benchmarks rely on)."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl.trainer.ppo.core_algos import agg_loss, compute_grpo_outcome_advantage, compute_policy_loss_vanilla

from verl_dsdr.algorithms.baselines import aggregate, grpo_advantages, ppo_clip_loss


@pytest.mark.parametrize("norm", [True, False])
def test_grpo_equals_verls(norm):
    gen = torch.Generator().manual_seed(3)
    rewards = torch.zeros(24, 5)
    lengths = torch.randint(1, 6, (24,), generator=gen)
    rewards[torch.arange(24), lengths - 1] = torch.randint(0, 2, (24,), generator=gen).float()
    mask = (torch.arange(5)[None, :] < lengths[:, None]).float()
    index = np.array([f"u{i // 4}" for i in range(23)] + ["single"], dtype=object)
    expected, _ = compute_grpo_outcome_advantage(rewards, mask, index, norm_adv_by_std_in_grpo=norm)
    torch.testing.assert_close(grpo_advantages(rewards, mask, index, norm_by_std=norm), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-mean"])
def test_ppo_clip_and_aggregation_equal_verls(mode):
    gen = torch.Generator().manual_seed(0)
    log_prob = -torch.rand(3, 6, generator=gen) * 3
    old = log_prob + 0.3 * torch.randn(3, 6, generator=gen)
    adv = torch.tensor([1.0, -1.0, 0.5])[:, None].expand(3, 6)
    mask = torch.arange(6)[None, :] < torch.tensor([6, 4, 2])[:, None]
    config = OmegaConf.create(
        {
            "clip_ratio": 0.2,
            "clip_ratio_low": 0.2,
            "clip_ratio_high": 0.28,
            "clip_ratio_c": 3.0,
            "global_batch_info": {},
        }
    )
    ref, ref_metrics = compute_policy_loss_vanilla(old, log_prob, adv, mask, mode, config)
    mine, metrics = ppo_clip_loss(log_prob, old, adv, mask, 0.2, 0.28, 3.0, mode)
    torch.testing.assert_close(mine, ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(
        metrics["pg_clipfrac"], torch.as_tensor(ref_metrics["actor/pg_clipfrac"]), atol=1e-6, rtol=1e-6
    )
    loss_mat = torch.randn(3, 6, generator=gen)
    torch.testing.assert_close(aggregate(loss_mat, mask, mode), agg_loss(loss_mat, mask, mode), rtol=1e-6, atol=1e-7)
