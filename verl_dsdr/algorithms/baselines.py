"""The baselines DSDR is measured against, in torch only: GRPO's advantage and the PPO-clip loss.

verl computes both (``compute_grpo_outcome_advantage``, ``compute_policy_loss_vanilla`` and
``agg_loss`` in ``verl/trainer/ppo/core_algos.py``), but importing verl imports ray. These are
the same arithmetic for a machine that has only torch (the benchmarks in ``scripts/``); tests
check them against verl's functions. Training always uses verl's own.
"""

from __future__ import annotations

from typing import Any

import torch

from .dsdr import LOG_RATIO_CLAMP
from .groups import group_layout, sample_group_sizes

__all__ = ["GRPO_EPSILON", "aggregate", "grpo_advantages", "ppo_clip_loss"]

GRPO_EPSILON = 1e-6  # verl's compute_grpo_outcome_advantage default


def grpo_advantages(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any,
    epsilon: float = GRPO_EPSILON,
    norm_by_std: bool = True,
) -> torch.Tensor:
    """GRPO's outcome advantage ``(s - mean_g) / (std_g + epsilon)`` broadcast over the response, ``[B, L]``.

    ``s`` is each row's summed reward; ``mean_g`` and the **unbiased** ``std_g`` are over the row's
    group (same uid). A group of one gets mean 0 and std 1 (verl's rule). ``norm_by_std=False``
    leaves ``s - mean_g``.

    Args:
        token_level_rewards: ``[B, L]`` rewards.
        response_mask: ``[B, L]`` valid-token mask.
        index: ``[B]`` uids (or a ``GroupLayout``).
        epsilon: added to the std.
        norm_by_std: divide by the std (verl's ``norm_adv_by_std_in_grpo``).

    Returns:
        ``[B, L]`` advantages, zero on padding.
    """
    scores = token_level_rewards.sum(dim=-1)
    layout = group_layout(index, scores.device)
    ids, count = layout.ids, sample_group_sizes(layout).to(scores.dtype)
    n = layout.n_groups
    mean = torch.zeros(n, dtype=scores.dtype, device=scores.device).index_add_(0, ids, scores)[ids] / count
    sq = torch.zeros(n, dtype=scores.dtype, device=scores.device).index_add_(0, ids, (scores - mean) ** 2)[ids]
    std = (sq / (count - 1).clamp_min(1)).sqrt()
    single = count == 1
    mean = torch.where(single, torch.zeros_like(mean), mean)
    std = torch.where(single, torch.ones_like(std), std)
    adv = (scores - mean) / (std + epsilon) if norm_by_std else scores - mean
    return adv.unsqueeze(-1) * response_mask


def _masked_sum(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    valid = torch.where(mask.bool(), values, torch.zeros_like(values)) * mask
    return valid.sum() if dim is None else valid.sum(dim=dim)


def aggregate(loss_mat: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """One micro-batch's scalar loss as verl's ``agg_loss`` with ``dp_size=1`` and the micro-batch's own counts.

    Args:
        loss_mat: ``[B, L]`` per-token losses.
        mask: ``[B, L]`` valid-token mask.
        mode: ``token-mean``, ``token-sum``, ``seq-mean-token-sum`` or ``seq-mean-token-mean``.

    Returns:
        scalar loss, shape ``[]``.
    """
    mask = mask.to(loss_mat.dtype)
    if mode == "token-mean":
        return _masked_sum(loss_mat, mask) / mask.sum()
    if mode == "token-sum":
        return _masked_sum(loss_mat, mask)
    tokens = mask.sum(dim=-1)
    if mode == "seq-mean-token-sum":
        seq = _masked_sum(loss_mat, mask, dim=-1)
    elif mode == "seq-mean-token-mean":
        seq = _masked_sum(loss_mat, mask, dim=-1) / (tokens + 1e-8)
    else:
        raise ValueError(f"mode must be token-mean, token-sum, seq-mean-token-sum or seq-mean-token-mean, got {mode!r}")
    has_tokens = (tokens > 0).to(loss_mat.dtype)
    return _masked_sum(seq, has_tokens) / has_tokens.sum()


def ppo_clip_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    clip_ratio_c: float = 3.0,
    mode: str = "token-mean",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Dual-clip PPO on the sampled tokens (verl's ``vanilla`` policy loss) and its ``ppo_kl`` / ``pg_clipfrac``.

    Args:
        log_prob: ``[B, L]`` current log-probs of the sampled tokens.
        old_log_prob: ``[B, L]`` log-probs at sampling time.
        advantages: ``[B, L]``.
        mask: ``[B, L]`` valid-token mask.
        clip_low, clip_high: PPO clip range around 1.
        clip_ratio_c: dual-clip bound for negative advantages.
        mode: aggregation, as in :func:`aggregate`.

    Returns:
        (loss ``[]``, {``ppo_kl``: ``[]``, ``pg_clipfrac``: ``[]``}).
    """
    neg_kl = torch.clamp(log_prob - old_log_prob, min=-LOG_RATIO_CLAMP, max=LOG_RATIO_CLAMP)
    ratio = torch.exp(neg_kl)
    losses1 = -advantages * ratio
    losses2 = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    clipped1 = torch.maximum(losses1, losses2)
    clipped2 = torch.min(-advantages * clip_ratio_c, clipped1)
    losses = torch.where(advantages < 0, clipped2, clipped1)
    tokens = mask.to(log_prob.dtype).sum() + 1e-8
    metrics = {
        "ppo_kl": _masked_sum(-neg_kl, mask.to(log_prob.dtype)) / tokens,
        "pg_clipfrac": _masked_sum(torch.gt(losses2, losses1).to(log_prob.dtype), mask.to(log_prob.dtype)) / tokens,
    }
    return aggregate(losses, mask, mode), metrics
