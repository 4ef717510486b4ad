"""DSDR's actor loss (Eq. 16): verl's ``ppo_loss`` minus ``lambda_l`` times the local term.

Installed on the actor workers with ``set_loss_fn`` by the group trainer. The policy part is
verl's own ``ppo_loss``, so whatever ``actor.policy_loss.loss_mode``, KL loss and entropy bonus
the user chose compose with DSDR. The local term is

    J_local = mean over the global mini-batch of c_i * H_hat_i,   c_i = G * w_i,

aggregated with verl's ``agg_loss`` in ``seq-mean-token-mean`` mode (Eq. 15's per-sequence
mean, whatever ``loss_agg_mode`` the policy term uses: see ``local_term_note``) and the
``global_batch_info`` that ``ppo_loss`` fills, so it sums exactly over micro-batches and
data-parallel ranks. ``c_i`` arrives per sample in the field ``dsdr_coef``. The logged
``dsdr/local_term`` is the tensor subtracted. With ``lambda_l = 0`` the loss is verl's.
"""

from __future__ import annotations

from typing import Any

import torch
from verl.trainer.ppo.core_algos import agg_loss
from verl.utils.metric import AggregationType, Metric
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import no_padding_2_padding

from verl_dsdr.algorithms.dsdr import local_entropy_tokens
from verl_dsdr.methods.dsdr.config import COEF, LOCAL_TERM_AGG, DSDRConfig


def local_term_tokens(model_output: dict, data: Any, settings: DSDRConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token integrand of ``H_hat`` (``[mb, L]``) and the response mask, padded like ``ppo_loss``."""
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
    """``L = L_ppo - lambda_l * J_local`` for one micro-batch (spec section 6)."""
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
