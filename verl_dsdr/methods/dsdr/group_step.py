"""DSDR's group step (Eq. 4-11): per-sample inputs of a whole batch -> estimator inputs, ``c_i``, metrics.

Runs in the trainer, the first place where all G rollouts of a prompt are together, once per
step and vectorised over groups. Padding rows get zeros everywhere. Imports neither verl nor ray.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from verl_dsdr.algorithms.dsdr import (
    clipped_diversity,
    coupling_weights,
    entropy_of_weights,
    formula_uniqueness,
    global_diversity,
    loss_coefficients,
    semantic_diversity,
    sequence_mean,
)
from verl_dsdr.methods.base import MANAGER_HINT, GroupInputs, GroupStepResult, masked_mean
from verl_dsdr.methods.dsdr.config import COEF, DSDRConfig


@dataclass
class DSDRStats:
    semantic: torch.Tensor  # D_emb (Eq. 4-6)
    formula: torch.Tensor  # D_eq (Eq. 7-8)
    diversity: torch.Tensor  # d (Eq. 9)
    weights: torch.Tensor  # w (Eq. 11)
    coef: torch.Tensor  # c_i = G w_i (loss coefficient)


def dsdr_stats(inputs: GroupInputs, settings: DSDRConfig) -> DSDRStats:
    """D_emb, D_eq, d (Eq. 4-9), coupling weights (Eq. 11) and loss coefficients ``c_i = G w_i``."""
    if inputs.embeddings is None or inputs.formulas is None:
        raise ValueError(f"DSDR's group step needs each rollout's embedding and formula set: {MANAGER_HINT}")
    peer_mask = inputs.correct if settings.peers == "correct" else inputs.real
    semantic = semantic_diversity(inputs.embeddings, inputs.index, peer_mask=peer_mask)
    formula = formula_uniqueness(inputs.formulas, inputs.index, peer_mask=peer_mask)
    zero = torch.zeros_like(semantic)
    semantic = torch.where(inputs.real, semantic, zero)
    formula = torch.where(inputs.real, formula, zero)
    diversity = global_diversity(semantic, formula, weight=settings.semantic_weight)
    weights = coupling_weights(
        diversity, inputs.correct, inputs.index, tau=settings.tau, sigma_d=settings.sigma_d, mode=settings.coupling
    )
    coef = torch.where(inputs.real, loss_coefficients(weights, inputs.index), zero)
    return DSDRStats(semantic, formula, diversity, weights, coef)


def dsdr_metrics(inputs: GroupInputs, stats: DSDRStats, settings: DSDRConfig) -> dict[str, float]:
    """The ``dsdr/`` metrics of one step (means over real rollouts)."""
    real, correct = inputs.real, inputs.correct
    bonus = settings.lambda_d * clipped_diversity(stats.diversity, settings.sigma_d) * correct
    metrics = {
        "dsdr/d_mean": masked_mean(stats.diversity, real),
        "dsdr/d_correct_mean": masked_mean(stats.diversity, correct),
        "dsdr/d_emb_mean": masked_mean(stats.semantic, real),
        "dsdr/d_emb_correct_mean": masked_mean(stats.semantic, correct),
        "dsdr/d_eq_mean": masked_mean(stats.formula, real),
        "dsdr/d_eq_correct_mean": masked_mean(stats.formula, correct),
        "dsdr/bonus_mean": masked_mean(bonus, real),
        "dsdr/coupling_weight_entropy": float(entropy_of_weights(stats.weights, inputs.index)),
        "dsdr/coupling_weight_max": float(stats.weights.max()) if stats.weights.numel() else 0.0,
        "dsdr/coef_mean": masked_mean(stats.coef, real),
    }
    if "old_log_probs" in inputs.tokens:
        # Mean H_hat of correct and incorrect rollouts at the start of the update (rho = 1).
        h = sequence_mean(-inputs.tokens["old_log_probs"].float(), inputs.tokens["response_mask"])
        metrics["dsdr/entropy_correct"] = masked_mean(h, correct)
        metrics["dsdr/entropy_incorrect"] = masked_mean(h, real & ~correct)
    return metrics


def group_step(inputs: GroupInputs, settings: DSDRConfig) -> GroupStepResult:
    stats = dsdr_stats(inputs, settings)
    return GroupStepResult(
        estimator_inputs={"dsdr_correct": inputs.correct, "dsdr_diversity": stats.diversity},
        sample_fields={COEF: stats.coef},
        metrics=dsdr_metrics(inputs, stats, settings),
    )
