"""``algorithm.adv_estimator=asym_grpo``: AsymGRPO's advantages; needs nothing beyond what verl passes."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from verl.trainer.ppo.core_algos import register_adv_est

from verl_dsdr.algorithms.asym_grpo import asym_grpo_advantages
from verl_dsdr.methods.asym_grpo.config import AsymGRPOConfig
from verl_dsdr.methods.estimating import settings


@register_adv_est("asym_grpo")
def compute_asym_grpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Optional[Any] = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``+((1-p)/p)^beta_pos`` for correct, ``-(p/(1-p))^beta_neg`` for incorrect rollouts."""
    asym = settings(config, AsymGRPOConfig)
    scores = token_level_rewards.sum(dim=-1)
    adv = asym_grpo_advantages(
        scores, index, beta_pos=asym.beta_pos, beta_neg=asym.beta_neg, threshold=asym.threshold
    ).to(scores.device, torch.float32)
    out = adv.unsqueeze(-1) * response_mask
    return out, out
