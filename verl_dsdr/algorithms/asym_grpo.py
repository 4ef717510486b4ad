"""AsymGRPO, a peer method on the same pipeline (arXiv 2604.04894).

With binary rewards and group accuracy p, GRPO with the population std gives correct rollouts
(1 - p) / sqrt(p (1 - p)) = ((1 - p) / p)^0.5 and incorrect ones -(p / (1 - p))^0.5. AsymGRPO
decouples the two exponents:
    correct:   +((1 - p) / p)^beta_pos        incorrect:   -(p / (1 - p))^beta_neg
(defaults 0.9 / 0.4). beta = 0.5 / 0.5 is GRPO with population std (verl's GRPO up to its
unbiased-std factor and epsilon); 0 / 0 is REINFORCE's +-1. Groups with p in {0, 1} get 0.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .groups import check_batch, group_layout, to_float_tensor

__all__ = ["asym_grpo_advantages"]


def _check_beta(value: float, name: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0 (exponent of the odds ratio), got {value!r}")
    return float(value)


def asym_grpo_advantages(
    scores: Any,
    index: Any,
    beta_pos: float,
    beta_neg: float,
    threshold: float,
) -> torch.Tensor:
    """Sequence-level AsymGRPO advantages, float32 ``[B]``.

    Correctness is ``scores > threshold`` (verl's ``math_dapo`` gives +-1, other scorers 0/1:
    threshold 0 separates both). ``p`` is the fraction of correct rollouts in the sample's group.

    Args:
        scores: ``[B]`` sequence-level scores.
        index: ``[B]`` uids (or a ``GroupLayout``).
        beta_pos: exponent for correct rollouts (>= 0).
        beta_neg: exponent for incorrect rollouts (>= 0).
        threshold: a score counts as correct when it is ``> threshold``.

    Returns:
        float32 ``[B]`` advantages (0 in groups with p in {0, 1}).
    """
    bp = _check_beta(beta_pos, "beta_pos")
    bn = _check_beta(beta_neg, "beta_neg")
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    r = to_float_tensor(scores, "scores")
    if r.dim() != 1:
        raise ValueError(f"scores must be [B] (one sequence-level score per sample), got {tuple(r.shape)}")
    layout = group_layout(index, r.device)
    check_batch(r, layout.batch_size, "scores")
    correct = r > threshold
    hits = torch.zeros(layout.n_groups, device=r.device).index_add(0, layout.ids, correct.to(torch.float32))
    p = (hits / layout.sizes.to(torch.float32).clamp_min(1))[layout.ids]
    mixed = (p > 0) & (p < 1)
    # Odds are computed with a safe p so that the unused branch of where stays finite.
    p_safe = torch.where(mixed, p, torch.full_like(p, 0.5))
    pos = ((1 - p_safe) / p_safe).pow(bp)
    neg = -(p_safe / (1 - p_safe)).pow(bn)
    adv = torch.where(correct, pos, neg)
    return torch.where(mixed, adv, torch.zeros_like(adv))
