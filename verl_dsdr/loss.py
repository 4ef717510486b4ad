"""DSDR's actor loss (Eq. 16): verl's ``ppo_loss`` minus ``lambda_l`` times the local term.

Installed on the trainer workers with ``set_loss_fn`` by :class:`verl_dsdr.trainer.DSDRTrainer`.
The policy-gradient part is verl's own ``ppo_loss``, so whatever
``actor.policy_loss.loss_mode`` (vanilla, clip_cov, gspo, ...), KL loss and entropy bonus
the user chose compose with DSDR. The local term is

    J_local = mean over the global mini-batch of c_i * H_hat_i,   c_i = G * w_i,

aggregated with verl's ``agg_loss`` in ``seq-mean-token-mean`` mode and the
``global_batch_info`` that ``ppo_loss`` fills, so it sums exactly over micro-batches and
data-parallel ranks. ``c_i`` arrives per sample in the TensorDict field ``dsdr_coef``.
With ``lambda_l = 0`` the loss is verl's ``ppo_loss`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from verl.trainer.ppo.core_algos import agg_loss
from verl.utils.metric import AggregationType, Metric
from verl.workers.utils.losses import ppo_loss
from verl.workers.utils.padding import no_padding_2_padding

from verl_dsdr.algorithms.dsdr import local_entropy_tokens

COEF_FIELD = "dsdr_coef"


@dataclass(frozen=True)
class LocalTermSettings:
    lambda_l: float = 0.001
    entropy_estimator: str = "is"  # "is" | "full"
    detach_ratio: bool = False


def local_term_tokens(model_output: dict, data, settings: LocalTermSettings) -> tuple[torch.Tensor, torch.Tensor]:
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


def dsdr_ppo_loss(config, model_output, data, dp_group=None, *, settings: LocalTermSettings):
    """``L = L_ppo - lambda_l * J_local`` for one micro-batch (spec section 6)."""
    loss, metrics = ppo_loss(config, model_output, data, dp_group)
    if settings.lambda_l == 0.0:
        return loss, metrics
    tokens, mask = local_term_tokens(model_output, data, settings)
    coef = data[COEF_FIELD].to(tokens.device, tokens.dtype)
    local = agg_loss(
        loss_mat=coef.unsqueeze(-1) * tokens,
        loss_mask=mask,
        loss_agg_mode="seq-mean-token-mean",
        **config.global_batch_info,
    )
    term = settings.lambda_l * local
    metrics["dsdr/local_term"] = Metric(value=term.detach(), aggregation=AggregationType.SUM)
    return loss - term, metrics
