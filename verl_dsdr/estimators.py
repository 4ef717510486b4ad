"""Advantage estimators registered with verl (``algorithm.adv_estimator=dsdr|setpo|asym_grpo``).

Each is called like verl calls any estimator (``token_level_rewards``, ``response_mask``,
``index``, ``config`` = the ``algorithm`` section). ``dsdr`` and ``setpo`` also need per-sample
inputs that verl does not pass to estimators (correctness, diversity, embeddings): the DSDR
trainer computes them per group and passes them as keyword arguments.

Group normalisation is verl's own ``compute_grpo_outcome_advantage``, called on the shaped
rewards, so DSDR with ``lambda_d = 0`` and SetPO with ``lambda = 0`` are bit-identical to
verl's ``grpo`` (same epsilon, unbiased std, ``norm_adv_by_std_in_grpo`` switch).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, register_adv_est

from verl_dsdr.algorithms.asym_grpo import asym_grpo_advantages
from verl_dsdr.algorithms.dsdr import shaped_rewards
from verl_dsdr.algorithms.setpo import setpo_shaped_advantages

GRPO_EPSILON = 1e-6  # verl's grpo default


def _section(config: Any, name: str) -> dict:
    if config is None:
        return {}
    section = config.get(name) if hasattr(config, "get") else getattr(config, name, None)
    return section or {}


def _norm_by_std(config: Any) -> bool:
    if config is None:
        return True
    value = config.get("norm_adv_by_std_in_grpo", True) if hasattr(config, "get") else True
    return bool(value)


def _needs_trainer(name: str, argument: str) -> ValueError:
    return ValueError(
        f"the {name!r} advantage estimator needs `{argument}`, which verl's stock trainer does not pass: "
        "run training through `python -m verl_dsdr.main_ppo` (it switches to verl_dsdr's DSDRTrainer)"
    )


def last_token_bonus(response_mask: torch.Tensor, bonus: torch.Tensor) -> torch.Tensor:
    """A ``[B, L]`` tensor holding ``bonus[i]`` at row i's last valid token, zero elsewhere."""
    out = torch.zeros_like(response_mask, dtype=torch.float32)
    lengths = response_mask.sum(dim=-1).long()
    rows = torch.nonzero(lengths > 0, as_tuple=True)[0]
    out[rows, lengths[rows] - 1] = bonus[rows].to(out.dtype)
    return out


def row_value(token_values: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """The per-row value of a row-constant ``[B, L]`` tensor, read at the first token (0 for empty rows)."""
    return token_values[:, 0] * (response_mask.sum(dim=-1) > 0).to(token_values.dtype)


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
    """Eq. 10 shaping, then verl's GRPO group normalisation on the shaped rewards (spec section 3)."""
    if dsdr_correct is None:
        raise _needs_trainer("dsdr", "dsdr_correct")
    if dsdr_diversity is None:
        raise _needs_trainer("dsdr", "dsdr_diversity")
    dsdr = _section(config, "dsdr")
    scores = token_level_rewards.sum(dim=-1)
    shaped = shaped_rewards(
        scores, dsdr_correct, dsdr_diversity, float(dsdr.get("lambda_d", 0.001)), float(dsdr.get("sigma_d", 1.0))
    ).to(scores.device)
    # The bonus is added where verl puts the outcome reward; with lambda_d = 0 it adds exact zeros.
    shaped_tokens = token_level_rewards + last_token_bonus(response_mask, shaped - scores)
    return compute_grpo_outcome_advantage(
        shaped_tokens, response_mask, index, epsilon=GRPO_EPSILON, norm_adv_by_std_in_grpo=_norm_by_std(config)
    )


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
    if setpo_contributions is None:
        raise _needs_trainer("setpo", "setpo_contributions")
    setpo = _section(config, "setpo")
    advantages, _returns = compute_grpo_outcome_advantage(
        token_level_rewards, response_mask, index, epsilon=GRPO_EPSILON, norm_adv_by_std_in_grpo=_norm_by_std(config)
    )
    base = row_value(advantages, response_mask)  # verl broadcasts one outcome advantage per row
    correct = setpo_correct if bool(setpo.get("correct_only", False)) else None
    shaped = setpo_shaped_advantages(base, setpo_contributions, correct=correct, lambda_=float(setpo.get("lambda_", 1.0)))
    out = shaped.to(advantages.dtype).unsqueeze(-1) * response_mask
    return out, out


@register_adv_est("asym_grpo")
def compute_asym_grpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Optional[Any] = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """AsymGRPO: ``+((1-p)/p)^beta_pos`` for correct, ``-(p/(1-p))^beta_neg`` for incorrect rollouts."""
    asym = _section(config, "asym_grpo")
    scores = token_level_rewards.sum(dim=-1)
    adv = asym_grpo_advantages(
        scores,
        index,
        beta_pos=float(asym.get("beta_pos", 0.9)),
        beta_neg=float(asym.get("beta_neg", 0.4)),
        threshold=float(asym.get("threshold", 0.0)),
    ).to(scores.device, torch.float32)
    out = adv.unsqueeze(-1) * response_mask
    return out, out
