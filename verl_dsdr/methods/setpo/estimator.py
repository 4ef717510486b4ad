"""``algorithm.adv_estimator=setpo``: verl's GRPO advantages plus ``lambda * s_i``.

``s_i`` (and, for ``correct_only``, the correctness) come from the group trainer for the step
(:mod:`verl_dsdr.methods.context`) or as keyword arguments. With ``lambda = 0`` it is verl's ``grpo``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, register_adv_est

from verl_dsdr.algorithms.setpo import setpo_shaped_advantages
from verl_dsdr.methods.estimating import GRPO_EPSILON, norm_by_std, row_value, settings, step_input
from verl_dsdr.methods.setpo.config import SetPOConfig


@register_adv_est("setpo")
def compute_setpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Optional[Any] = None,
    setpo_contributions: Optional[torch.Tensor] = None,
    setpo_correct: Optional[torch.Tensor] = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO advantages plus ``lambda * s_i`` (SetPO's leave-one-out set-diversity contribution)."""
    contributions = step_input("setpo", "setpo_contributions", setpo_contributions, index)
    setpo = settings(config, SetPOConfig)
    correct = step_input("setpo", "setpo_correct", setpo_correct, index) if setpo.correct_only else None
    advantages, _returns = compute_grpo_outcome_advantage(
        token_level_rewards, response_mask, index, epsilon=GRPO_EPSILON, norm_adv_by_std_in_grpo=norm_by_std(config)
    )
    base = row_value(advantages, response_mask)  # verl broadcasts one outcome advantage per row
    shaped = setpo_shaped_advantages(base, contributions, correct=correct, lambda_=setpo.lambda_)
    out = shaped.to(advantages.dtype).unsqueeze(-1) * response_mask
    return out, out
