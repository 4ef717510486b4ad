"""DSDR (Wan et al., arXiv 2602.19895; equation numbers are the paper's): the whole method in one file.

- settings ``algorithm.dsdr`` (:class:`DSDRConfig`; defaults are the paper's where it gives one,
  the others are marked "(choice)" and explained in ``docs/ALGORITHM.md``);
- from the reward side: each rollout's embedding ``z_i`` (Eq. 4) and formula set ``S(o_i)`` (Eq. 7);
- group step (trainer, once per step): ``D_emb``, ``D_eq``, ``d`` (Eq. 5-9), coupling weights
  (Eq. 11) and the loss coefficients ``c_i = G w_i``, put per sample as ``dsdr_coef``;
- advantage (registered ``dsdr``): Eq. 10 shaping, then verl's own GRPO normalisation;
- actor loss (Eq. 16): verl's ``ppo_loss`` minus ``lambda_l`` times the local term.

The math is :mod:`verl_dsdr.algorithms.dsdr`. verl is imported only inside the estimator and the
loss, which run in verl's processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from verl_dsdr.algorithms.dsdr import (
    clipped_diversity,
    coupling_weights,
    entropy_of_weights,
    formula_uniqueness,
    global_diversity,
    local_entropy_tokens,
    loss_coefficients,
    semantic_diversity,
    sequence_mean,
    shaped_rewards,
)
from verl_dsdr.algorithms.groups import GroupLayout, group_layout
from verl_dsdr.methods.base import GroupInputs, GroupStepResult, Method, RewardField, masked_mean
from verl_dsdr.methods.estimating import GRPO_EPSILON, last_token_bonus, norm_by_std, settings, step_input
from verl_dsdr.methods.params import Settings, param, section
from verl_dsdr.methods.registry import register_method
from verl_dsdr.methods.wire import EMBEDDING, FORMULAS, EmbedderConfig, FormulaConfig, FormulaSet, ResponseEmbedding

__all__ = ["COEF", "DSDR", "DSDRConfig", "DSDRStats", "EmbedderConfig", "FormulaConfig", "dsdr_stats"]

# TransferQueue per-sample float c_i = G w_i, put by the group step and read by the actor loss (Eq. 16).
COEF = "dsdr_coef"
# Eq. 15 is a per-sequence mean: the local term is aggregated this way whatever actor.loss_agg_mode is.
LOCAL_TERM_AGG = "seq-mean-token-mean"
# How much larger the policy term is under each sum-type loss_agg_mode than under token-mean.
SUM_TYPE_AGG_MODES = {
    "seq-mean-token-sum": "T (the response length)",
    "token-sum": "B x T (B = sequences per mini-batch, T = response length)",
}
# entropy_estimator=full: verl computes the exact entropy (calculate_entropy) with its fused kernels
# (FusedLinearForPPO, torch backend: log-probs and entropy from the hidden states in chunks of 512
# tokens inside one autograd function), so no logits-sized tensor is kept for backward. Equal in value
# and gradient to the plain path (tests/glue/test_full_entropy.py); runs on CPU and GPU.
FULL_ENTROPY_SETTINGS = {
    "actor_rollout_ref.actor.calculate_entropy": True,
    "actor_rollout_ref.model.use_fused_kernels": True,
}


@dataclass
class DSDRConfig(Settings):
    """``algorithm.dsdr`` (``algorithm.adv_estimator=dsdr``)."""

    KEY = "algorithm.dsdr"
    _target_: str = "verl_dsdr.methods.dsdr.DSDRConfig"
    lambda_d: float = param(
        0.001,
        "weight of the correct-only diversity bonus (paper's best of 0.001/0.01/0.1)",
        symbol="lambda_d",
        eq="Eq. 10",
        low=0.0,
    )
    sigma_d: float = param(
        1.0,
        "clip of the diversity score before the bonus and the coupling (choice: not in the paper)",
        symbol="sigma_d",
        eq="Eq. 10-11",
        low=0.0,
        low_open=True,
    )
    lambda_l: float = param(
        0.001,
        "weight of the local entropy term (paper's best of 0.001/0.002/0.01)",
        symbol="lambda_l",
        eq="Eq. 16",
        low=0.0,
    )
    tau: float = param(
        5.0,
        "coupling temperature; multiplies d_bar (paper's sweep 1/5/10)",
        symbol="tau",
        eq="Eq. 11",
        low=0.0,
        low_open=True,
    )
    semantic_weight: float = param(
        0.5, "d = w D_emb + (1 - w) D_eq (paper: 1/2)", symbol="w", eq="Eq. 9", low=0.0, high=1.0
    )
    peers: str = param(
        "all",
        "rollouts a diversity score is measured against: all G-1 others (paper) | correct (choice)",
        eq="Eq. 5, 8",
        choices=("all", "correct"),
    )
    coupling: str = param(
        "softmax",
        "coupling weights: softmax (paper) | uniform 1/|P| (the w/o GC ablation)",
        symbol="w_i",
        eq="Eq. 11",
        choices=("softmax", "uniform"),
    )
    entropy_estimator: str = param(
        "is",
        "is: sampled-token importance sampling, free | full: exact next-token entropy (verl's fused kernels)",
        symbol="H_hat_i",
        eq="Eq. 12-15",
        choices=("is", "full"),
    )
    detach_ratio: bool = param(
        False,
        "detach rho in the IS estimate (choice; the gradient is then zero-mean noise)",
        symbol="rho_{i,t}",
        eq="Eq. 13",
    )
    diversity_in_validation: bool = param(False, "compute embeddings and formula sets for validation prompts too")
    embedder: EmbedderConfig = section(EmbedderConfig, "the sentence encoder (Eq. 4)")
    formulas: FormulaConfig = section(FormulaConfig, "formula extraction (Eq. 7)")


def local_term_note(loss_agg_mode: str, lambda_l: float, response_length: int) -> str | None:
    """The start-up line when the policy term sums over tokens but the local term (Eq. 15) averages.

    Deliberate choice: the local term stays Eq. 15's length-invariant per-sequence mean under
    every ``loss_agg_mode`` (the paper defines it so, and ``c_i`` weighs rollouts, not tokens).
    Under a sum-type mode the policy term grows with the response length, so ``lambda_l``'s
    weight relative to it shrinks by that factor; the line says so and how to compensate.
    (``seq-mean-token-sum-norm`` divides by a fixed horizon and keeps the token-mean scale.)
    """
    factor = SUM_TYPE_AGG_MODES.get(loss_agg_mode)
    if lambda_l == 0.0 or factor is None:
        return None
    return (
        f"[verl_dsdr] actor.loss_agg_mode={loss_agg_mode} sums the policy term over tokens, while DSDR's local term "
        f"stays Eq. 15's per-sequence mean ({LOCAL_TERM_AGG}): relative to the policy term, "
        f"algorithm.dsdr.lambda_l={lambda_l:g} weighs about 1/({factor}) as much as under token-mean "
        f"(responses up to {response_length} tokens). To keep the paper's balance, scale lambda_l up by that factor."
    )


# --- group step (trainer) -------------------------------------------------------------------------


@dataclass
class DSDRStats:
    semantic: torch.Tensor  # D_emb (Eq. 4-6)
    formula: torch.Tensor  # D_eq (Eq. 7-8)
    diversity: torch.Tensor  # d (Eq. 9)
    weights: torch.Tensor  # w (Eq. 11)
    coef: torch.Tensor  # c_i = G w_i (loss coefficient)
    layout: GroupLayout  # the step's groups, derived once from the uids


def dsdr_stats(inputs: GroupInputs, settings: DSDRConfig) -> DSDRStats:
    """D_emb, D_eq, d (Eq. 4-9), coupling weights (Eq. 11) and loss coefficients ``c_i = G w_i``.

    The group layout is derived once here and handed to every function that needs it.
    """
    embeddings, formulas = inputs.field(EMBEDDING), inputs.field(FORMULAS)
    layout = group_layout(inputs.index)
    peer_mask = inputs.correct if settings.peers == "correct" else inputs.real
    semantic = semantic_diversity(embeddings, layout, peer_mask=peer_mask)
    formula = formula_uniqueness(formulas, layout, peer_mask=peer_mask)
    zero = torch.zeros_like(semantic)
    semantic = torch.where(inputs.real, semantic, zero)
    formula = torch.where(inputs.real, formula, zero)
    diversity = global_diversity(semantic, formula, weight=settings.semantic_weight)
    weights = coupling_weights(
        diversity, inputs.correct, layout, tau=settings.tau, sigma_d=settings.sigma_d, mode=settings.coupling
    )
    coef = torch.where(inputs.real, loss_coefficients(weights, layout), zero)
    return DSDRStats(semantic, formula, diversity, weights, coef, layout)


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
        "dsdr/coupling_weight_entropy": float(entropy_of_weights(stats.weights, stats.layout)),
        "dsdr/coupling_weight_max": float(stats.weights.max()) if stats.weights.numel() else 0.0,
        "dsdr/coef_mean": masked_mean(stats.coef, real),
    }
    if "old_log_probs" in inputs.tokens:
        # Mean H_hat of correct and incorrect rollouts at the start of the update (rho = 1).
        h = sequence_mean(-inputs.tokens["old_log_probs"].float(), inputs.tokens["response_mask"])
        metrics["dsdr/entropy_correct"] = masked_mean(h, correct)
        metrics["dsdr/entropy_incorrect"] = masked_mean(h, real & ~correct)
    return metrics


# --- advantage (registered `dsdr`) and actor loss (verl processes) ---------------------------------


def compute_dsdr_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Any | None = None,
    dsdr_correct: torch.Tensor | None = None,
    dsdr_diversity: torch.Tensor | None = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``r~_i = r_i + lambda_d * clip(d_i, 0, sigma_d) * 1[correct]`` (Eq. 10), group-normalised like GRPO.

    The per-sample correctness and diversity come from the group step (published for the step,
    :mod:`verl_dsdr.methods.context`) or as keyword arguments. With ``lambda_d = 0`` the result is
    verl's ``grpo`` bit for bit.

    Args:
        token_level_rewards: ``[B, L]`` rewards (verl puts the outcome at the last valid token).
        response_mask: ``[B, L]`` valid-token mask.
        index: ``[B]`` uids (verl's ``uid``).
        config: verl's ``algorithm`` section (``algorithm.dsdr`` and ``norm_adv_by_std_in_grpo``).
        dsdr_correct: bool ``[B]``; dsdr_diversity: float ``[B]`` (``d_i``, Eq. 9).

    Returns:
        (advantages, returns), both ``[B, L]``.
    """
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

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


def local_term_tokens(model_output: dict, data: Any, settings: DSDRConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token integrand of ``H_hat`` (``[mb, L]``) and the response mask, padded like ``ppo_loss``."""
    from verl.workers.utils.padding import no_padding_2_padding

    padded = data.select("response_mask", "old_log_probs").to_padded_tensor()
    mask = padded["response_mask"].to(bool)
    if settings.entropy_estimator == "full":
        if model_output.get("entropy") is None:
            raise RuntimeError(
                "algorithm.dsdr.entropy_estimator=full needs the model's entropy: "
                "set actor_rollout_ref.actor.calculate_entropy=True (verl_dsdr.main_ppo does)"
            )
        return no_padding_2_padding(model_output["entropy"], data), mask
    log_prob = no_padding_2_padding(model_output["log_probs"], data)
    old_log_prob = torch.where(mask, padded["old_log_probs"], torch.zeros_like(log_prob))
    log_prob = torch.where(mask, log_prob, torch.zeros_like(log_prob))
    return local_entropy_tokens(log_prob, old_log_prob, settings.detach_ratio), mask


def dsdr_ppo_loss(
    config: Any, model_output: dict, data: Any, dp_group: Any = None, *, settings: DSDRConfig
) -> tuple[torch.Tensor, dict]:
    """``L = L_ppo - lambda_l * J_local`` for one micro-batch (Eq. 16, spec section 6).

    The policy part is verl's own ``ppo_loss``, so any ``policy_loss.loss_mode``, KL loss and
    entropy bonus compose with DSDR. ``J_local`` is the mean over the global mini-batch of
    ``c_i * H_hat_i``, aggregated with verl's ``agg_loss`` in ``seq-mean-token-mean`` mode (Eq. 15,
    whatever ``loss_agg_mode`` the policy term uses: see :func:`local_term_note`) and the
    ``global_batch_info`` that ``ppo_loss`` fills, so it sums exactly over micro-batches and
    data-parallel ranks. The logged ``dsdr/local_term`` is the tensor subtracted. With
    ``lambda_l = 0`` the loss is verl's.
    """
    from verl.trainer.ppo.core_algos import agg_loss
    from verl.utils.metric import AggregationType, Metric
    from verl.workers.utils.losses import ppo_loss

    loss, metrics = ppo_loss(config, model_output, data, dp_group)
    if settings.lambda_l == 0.0:
        return loss, metrics
    tokens, mask = local_term_tokens(model_output, data, settings)
    coef = data[COEF].to(tokens.device, tokens.dtype)
    local = agg_loss(
        loss_mat=coef.unsqueeze(-1) * tokens, loss_mask=mask, loss_agg_mode=LOCAL_TERM_AGG, **config.global_batch_info
    )
    term = settings.lambda_l * local
    metrics["dsdr/local_term"] = Metric(value=term.detach(), aggregation=AggregationType.SUM)
    return loss - term, metrics


@register_method("dsdr")
class DSDR(Method):
    """Dual-scale diversity regularization: a correct-only diversity bonus and a coupled local entropy term."""

    config_cls = DSDRConfig
    trainer_fields = ("old_log_probs", "response_mask")
    advantage = staticmethod(compute_dsdr_advantage)
    loss = staticmethod(dsdr_ppo_loss)

    def reward_fields(self, settings: DSDRConfig) -> Sequence[RewardField]:
        return (FormulaSet(settings.formulas), ResponseEmbedding(settings.embedder))

    def reward_fields_in_validation(self, settings: DSDRConfig) -> bool:
        return settings.diversity_in_validation

    def group_step(self, inputs: GroupInputs, settings: DSDRConfig) -> GroupStepResult:
        stats = dsdr_stats(inputs, settings)
        return GroupStepResult(
            estimator_inputs={"dsdr_correct": inputs.correct, "dsdr_diversity": stats.diversity},
            sample_fields={COEF: stats.coef},
            metrics=dsdr_metrics(inputs, stats, settings),
        )

    def actor_overrides(self, settings: DSDRConfig, config: Any) -> dict[str, Any]:
        return dict(FULL_ENTROPY_SETTINGS) if settings.entropy_estimator == "full" else {}

    def start_notes(self, settings: DSDRConfig, config: Any) -> list[str]:
        actor = config.actor_rollout_ref.actor
        note = local_term_note(str(actor.loss_agg_mode), settings.lambda_l, int(config.data.max_response_length))
        return [note] if note else []
