"""``algorithm.adv_estimator=dsdr``: Eq. 10 shaping, then verl's own GRPO normalisation (spec section 3).

Called by verl's advantage step like any registered estimator. The per-sample correctness and
diversity come from the group trainer (published for the step, see :mod:`verl_dsdr.methods.context`)
or as keyword arguments. With ``lambda_d = 0`` the result is verl's ``grpo`` bit for bit.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, register_adv_est

from verl_dsdr.algorithms.dsdr import shaped_rewards
from verl_dsdr.methods.dsdr.config import DSDRConfig
from verl_dsdr.methods.estimating import GRPO_EPSILON, last_token_bonus, norm_by_std, settings, step_input


@register_adv_est("dsdr")
def compute_dsdr_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Optional[Any] = None,
    dsdr_correct: Optional[torch.Tensor] = None,
    dsdr_diversity: Optional[torch.Tensor] = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``r~_i = r_i + lambda_d * clip(d_i, 0, sigma_d) * 1[correct]`` (Eq. 10), group-normalised like GRPO."""
    correct = step_input("dsdr", "dsdr_correct", dsdr_correct, index)
    diversity = step_input("dsdr", "dsdr_diversity", dsdr_diversity, index)
    dsdr = settings(config, DSDRConfig)
    scores = token_level_rewards.sum(dim=-1)
    shaped = shaped_rewards(scores, correct, diversity, dsdr.lambda_d, dsdr.sigma_d).to(scores.device)
    # The bonus is added where verl puts the outcome reward; with lambda_d = 0 it adds exact zeros.
    shaped_tokens = token_level_rewards + last_token_bonus(response_mask, shaped - scores)
    return compute_grpo_outcome_advantage(
        shaped_tokens, response_mask, index, epsilon=GRPO_EPSILON, norm_adv_by_std_in_grpo=norm_by_std(config)
    )
