"""AsymGRPO (arXiv 2604.04894): GRPO with separate exponents for correct and incorrect rollouts, in one file.

Settings ``algorithm.asym_grpo``; no reward-side field and no group step (rewards and uids
suffice); advantage registered ``asym_grpo`` (:func:`verl_dsdr.algorithms.asym_grpo.asym_grpo_advantages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from verl_dsdr.algorithms.asym_grpo import asym_grpo_advantages
from verl_dsdr.methods.base import Method
from verl_dsdr.methods.estimating import settings
from verl_dsdr.methods.params import Settings, param
from verl_dsdr.methods.registry import register_method

__all__ = ["AsymGRPO", "AsymGRPOConfig"]


@dataclass
class AsymGRPOConfig(Settings):
    """``algorithm.asym_grpo``: ``+((1-p)/p)^beta_pos`` for correct, ``-(p/(1-p))^beta_neg`` for incorrect rollouts."""

    KEY = "algorithm.asym_grpo"
    _target_: str = "verl_dsdr.methods.asym_grpo.AsymGRPOConfig"
    beta_pos: float = param(0.9, "exponent of the correct rollouts' advantage (0.5 = GRPO)", symbol="beta_pos", low=0.0)
    beta_neg: float = param(
        0.4, "exponent of the incorrect rollouts' advantage (0.5 = GRPO)", symbol="beta_neg", low=0.0
    )
    threshold: float = param(0.0, "a reward counts as correct when it is > threshold")


def compute_asym_grpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Any | None = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``+((1-p)/p)^beta_pos`` for correct, ``-(p/(1-p))^beta_neg`` for incorrect rollouts.

    Args:
        token_level_rewards: ``[B, L]``; response_mask: ``[B, L]``; index: ``[B]`` uids.
        config: verl's ``algorithm`` section (``algorithm.asym_grpo``).

    Returns:
        (advantages, returns), both ``[B, L]``.
    """
    asym = settings(config, AsymGRPOConfig)
    scores = token_level_rewards.sum(dim=-1)
    adv = asym_grpo_advantages(
        scores, index, beta_pos=asym.beta_pos, beta_neg=asym.beta_neg, threshold=asym.threshold
    ).to(scores.device, torch.float32)
    out = adv.unsqueeze(-1) * response_mask
    return out, out


@register_method("asym_grpo")
class AsymGRPO(Method):
    """AsymGRPO: needs nothing beyond what verl passes its estimator."""

    config_cls = AsymGRPOConfig
    advantage = staticmethod(compute_asym_grpo_advantage)
