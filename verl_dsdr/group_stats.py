"""Per-group DSDR and SetPO statistics from the reward loop's per-trajectory extras.

The trainer is the first place where all G rollouts of a prompt are together. This module
turns the ``reward_extra_info`` dicts written by the ``dsdr`` reward manager into tensors and
computes, for the whole batch at once (vectorised per group), everything the estimator and
the actor loss need. Padding rows (verl pads batches to a divisible size, copying a real
row's extras) get zeros everywhere and never join a group. Imports neither verl nor ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch

from verl_dsdr.algorithms.dsdr import (
    clipped_diversity,
    coupling_weights,
    entropy_of_weights,
    formula_uniqueness,
    global_diversity,
    loss_coefficients,
    semantic_diversity,
)
from verl_dsdr.algorithms.setpo import setpo_contributions

MANAGER_HINT = (
    "set reward.reward_manager.name=dsdr (python -m verl_dsdr.main_ppo does this for "
    "algorithm.adv_estimator=dsdr|setpo)"
)


@dataclass
class GroupInputs:
    """Per-sample inputs, batch order. ``real`` is False for verl's padding rows."""

    index: np.ndarray
    real: torch.Tensor
    correct: torch.Tensor
    embeddings: Optional[torch.Tensor]
    formulas: Optional[list]
    scoring_seconds: float


@dataclass
class DSDRStats:
    semantic: torch.Tensor
    formula: torch.Tensor
    diversity: torch.Tensor
    weights: torch.Tensor
    coef: torch.Tensor


def _info(extra: Any) -> dict:
    info = extra.get("reward_extra_info") if isinstance(extra, dict) else None
    if info is None:
        raise ValueError(f"a trajectory has no reward_extra_info: {MANAGER_HINT}")
    return info


def gather_inputs(
    extra_fields: Sequence[Any], uids: Sequence[str], padding: Sequence[bool], need_embeddings: bool,
    need_formulas: bool,
) -> GroupInputs:
    """Read correctness, embeddings and formula sets of every row; padding rows get neutral values."""
    real = ~torch.as_tensor(np.asarray(padding, dtype=bool))
    infos = [_info(e) if r else {} for e, r in zip(extra_fields, real.tolist())]
    for key, needed in (("dsdr_correct", True), ("dsdr_embedding", need_embeddings), ("dsdr_formulas", need_formulas)):
        if needed and any(r and key not in info for info, r in zip(infos, real.tolist())):
            raise ValueError(f"reward_extra_info lacks {key!r}: {MANAGER_HINT}")
    correct = torch.tensor([bool(info.get("dsdr_correct", 0.0)) for info in infos], dtype=torch.bool)
    embeddings = None
    if need_embeddings:
        dim = len(next((info["dsdr_embedding"] for info in infos if "dsdr_embedding" in info), []))
        rows = [info.get("dsdr_embedding") or [0.0] * dim for info in infos]
        embeddings = torch.tensor(np.asarray(rows, dtype=np.float32))
    formulas = [frozenset(info.get("dsdr_formulas", ())) for info in infos] if need_formulas else None
    seconds = float(sum(float(info.get("dsdr_scoring_seconds", 0.0)) for info in infos))
    # Padding rows share one uid; give each its own so they never form a group with real rows.
    index = np.array([u if r else f"__dsdr_pad_{i}" for i, (u, r) in enumerate(zip(uids, real.tolist()))], dtype=object)
    return GroupInputs(index, real, correct & real, embeddings, formulas, seconds)


def dsdr_stats(inputs: GroupInputs, settings: Any) -> DSDRStats:
    """D_emb, D_eq, d (Eq. 4-9), coupling weights (Eq. 11) and loss coefficients ``c_i = G w_i``."""
    peer_mask = inputs.correct if settings.peers == "correct" else inputs.real
    semantic = semantic_diversity(inputs.embeddings, inputs.index, peer_mask=peer_mask)
    formula = formula_uniqueness(inputs.formulas, inputs.index, peer_mask=peer_mask)
    zero = torch.zeros_like(semantic)
    semantic = torch.where(inputs.real, semantic, zero)
    formula = torch.where(inputs.real, formula, zero)
    diversity = global_diversity(semantic, formula, weight=float(settings.semantic_weight))
    weights = coupling_weights(
        diversity, inputs.correct, inputs.index, tau=float(settings.tau), sigma_d=float(settings.sigma_d),
        mode=settings.coupling,
    )
    return DSDRStats(semantic, formula, diversity, weights, loss_coefficients(weights, inputs.index))


def setpo_stats(inputs: GroupInputs) -> torch.Tensor:
    """SetPO's leave-one-out contributions ``s_i``; 0 for padding rows."""
    s = setpo_contributions(inputs.embeddings, inputs.index)
    return torch.where(inputs.real, s, torch.zeros_like(s))


def _mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float(values[mask].mean()) if bool(mask.any()) else 0.0


def group_outcomes(index: Sequence, correct: torch.Tensor, real: torch.Tensor, prefix: str = "groups/") -> dict[str, float]:
    """Fractions of all-correct, all-wrong and mixed groups among real prompts (GRPO's signal lives in mixed ones)."""
    groups: dict = {}
    for i in torch.nonzero(real, as_tuple=True)[0].tolist():
        groups.setdefault(index[i], []).append(bool(correct[i]))
    n = max(1, len(groups))
    all_correct = sum(all(v) for v in groups.values())
    all_wrong = sum(not any(v) for v in groups.values())
    return {
        f"{prefix}frac_all_correct": all_correct / n,
        f"{prefix}frac_all_wrong": all_wrong / n,
        f"{prefix}frac_mixed": (len(groups) - all_correct - all_wrong) / n,
    }


def dsdr_metrics(inputs: GroupInputs, stats: DSDRStats, settings: Any) -> dict[str, float]:
    """The ``dsdr/`` metrics of one step (means over real rollouts)."""
    real, correct = inputs.real, inputs.correct
    bonus = float(settings.lambda_d) * clipped_diversity(stats.diversity, float(settings.sigma_d)) * correct
    metrics = {
        "dsdr/d_mean": _mean(stats.diversity, real),
        "dsdr/d_correct_mean": _mean(stats.diversity, correct),
        "dsdr/d_emb_mean": _mean(stats.semantic, real),
        "dsdr/d_emb_correct_mean": _mean(stats.semantic, correct),
        "dsdr/d_eq_mean": _mean(stats.formula, real),
        "dsdr/d_eq_correct_mean": _mean(stats.formula, correct),
        "dsdr/bonus_mean": _mean(bonus, real),
        "dsdr/coupling_weight_entropy": float(entropy_of_weights(stats.weights, inputs.index)),
        "dsdr/coupling_weight_max": float(stats.weights.max()) if stats.weights.numel() else 0.0,
        "dsdr/coef_mean": _mean(stats.coef, real),
    }
    metrics.update(group_outcomes(inputs.index, inputs.correct, inputs.real, prefix="dsdr/"))
    metrics.update(group_outcomes(inputs.index, inputs.correct, inputs.real))
    return metrics
