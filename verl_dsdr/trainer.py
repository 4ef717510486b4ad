"""``DSDRTrainer``: verl's sync PPO trainer with DSDR's (and SetPO's) group-level step.

Only the trainer sees whole groups (``shared/VERL_NOTES.md``), so ``_compute_advantage`` is
overridden to: read each trajectory's correctness, embedding and formula set from
TransferQueue; compute the group statistics (:mod:`verl_dsdr.group_stats`); write the
per-sample loss coefficient ``dsdr_coef`` for the actor; and call the registered ``dsdr`` (or
``setpo``) estimator with them. verl's KL-in-reward (``apply_kl_penalty``) and
rollout-correction (``compute_rollout_correction_and_add_to_batch``) helpers run exactly as
in the base trainer. The DSDR actor loss is installed on the workers in ``init``.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import torch
import transfer_queue as tq
from tensordict import TensorDict
from verl.protocol import DataProto
from verl.trainer.ppo.core_algos import get_adv_estimator_fn
from verl.trainer.ppo.ray_trainer import apply_kl_penalty
from verl.trainer.ppo.rollout_corr_helper import compute_rollout_correction_and_add_to_batch
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.utils.padding import response_to_nested

from verl_dsdr.algorithms.dsdr import sequence_mean
from verl_dsdr.cpu.patches import set_replay_poll_interval
from verl_dsdr.group_stats import dsdr_metrics, dsdr_stats, gather_inputs, group_outcomes, setpo_stats
from verl_dsdr.loss import COEF_FIELD, LocalTermSettings, dsdr_ppo_loss
from verl_dsdr.reward_manager import VALIDATE_FLAG

ADVANTAGE_FIELDS = ["uid", "response_mask", "rm_scores", "rollout_log_probs", "old_log_probs", "ref_log_prob", "values"]


class _FlaggedLoader:
    """Wraps the validation dataloader so every prompt carries ``dsdr_validate=True`` to the reward loop."""

    def __init__(self, loader):
        self.loader = loader

    def __iter__(self):
        for batch in self.loader:
            batch[VALIDATE_FLAG] = np.ones(len(batch["raw_prompt"]), dtype=bool)
            yield batch

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _PollIntervalMixin:
    """Honours ``trainer.v1.sampler.poll_interval`` (verl 0.9.1 hard-codes 2 s; see patches)."""

    def _build_replay_buffer(self):
        buffer = super()._build_replay_buffer()
        seconds = self.config.trainer.v1.sampler.get("poll_interval", None)
        if seconds is not None:
            set_replay_poll_interval(buffer, float(seconds))
        return buffer


class GroupOutcomeTrainer(_PollIntervalMixin, PPOTrainerSync):
    """verl's sync trainer plus ``groups/`` metrics: fractions of all-correct, all-wrong and mixed groups.

    Used for every estimator that DSDRTrainer does not handle (grpo, dapo, asym_grpo, ...);
    the training step itself is verl's, untouched.
    """

    def _compute_advantage(self, batch, metrics: dict):
        fetched = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=["uid", "rm_scores"])
        scores = fetched["rm_scores"]
        scores = torch.stack([row.sum() for row in scores.unbind(0)]) if scores.is_nested else scores.sum(-1)
        real = torch.tensor([not tag.get("is_padding", False) for tag in batch.tags], dtype=torch.bool)
        index = list(fetched["uid"].tolist() if hasattr(fetched["uid"], "tolist") else fetched["uid"])
        metrics.update(group_outcomes(index, (scores > 0) & real, real))
        return super()._compute_advantage(batch, metrics)


class DSDRTrainer(_PollIntervalMixin, PPOTrainerSync):
    """Sync PPO trainer for ``algorithm.adv_estimator=dsdr|setpo`` (same semantics as verl's ``sync``)."""

    def init(self):
        super().init()
        algorithm = self.config.algorithm
        if algorithm.adv_estimator == "dsdr":
            dsdr = algorithm.dsdr
            settings = LocalTermSettings(
                lambda_l=float(dsdr.lambda_l),
                entropy_estimator=str(dsdr.entropy_estimator),
                detach_ratio=bool(dsdr.detach_ratio),
            )
            actor_config = omega_conf_to_dataclass(self.config.actor_rollout_ref.actor)
            self.actor_rollout_wg.set_loss_fn(partial(dsdr_ppo_loss, config=actor_config, settings=settings))

    # ---- validation: tell the reward loop to skip training-only work --------------------
    def _validate(self, *args, **kwargs):
        loader = self.val_dataloader
        self.val_dataloader = _FlaggedLoader(loader)
        try:
            return super()._validate(*args, **kwargs)
        finally:
            self.val_dataloader = loader

    # ---- the group-level step ----------------------------------------------------------
    def _compute_advantage(self, batch, metrics: dict):
        start = time.perf_counter()
        algorithm = self.config.algorithm
        estimator = algorithm.adv_estimator
        fetched = tq.kv_batch_get(
            keys=batch.keys, partition_id=batch.partition_id, select_fields=ADVANTAGE_FIELDS + ["extra_fields"]
        )
        extra_fields = fetched.pop("extra_fields").tolist()
        response_mask = fetched["response_mask"]
        data = DataProto(batch=fetched.to_padded_tensor())
        data.batch["token_level_scores"] = data.batch["rm_scores"]
        uids = np.array(data.batch.pop("uid").tolist(), dtype=object)
        data.non_tensor_batch["uid"] = uids
        padding = [bool(tag.get("is_padding", False)) for tag in batch.tags]

        if algorithm.use_kl_in_reward:
            data, kl_metrics = apply_kl_penalty(data, kl_ctrl=self.kl_ctrl_in_reward, kl_penalty=algorithm.kl_penalty)
            metrics.update(kl_metrics)
        else:
            data.batch["token_level_rewards"] = data.batch["token_level_scores"]
        rollout_corr = algorithm.get("rollout_correction", None)
        rollout_correction = (
            rollout_corr is not None
            and "rollout_log_probs" in data.batch.keys()
            and not rollout_corr.get("bypass_mode", False)
        )
        if rollout_correction:
            data, is_metrics = compute_rollout_correction_and_add_to_batch(data, rollout_corr)
            metrics.update(is_metrics)

        inputs = gather_inputs(extra_fields, uids, padding, need_embeddings=True, need_formulas=estimator == "dsdr")
        mask = data.batch["response_mask"]
        common = dict(
            token_level_rewards=data.batch["token_level_rewards"], response_mask=mask, index=uids, config=algorithm
        )
        if estimator == "dsdr":
            stats = dsdr_stats(inputs, algorithm.dsdr)
            advantages, returns = get_adv_estimator_fn("dsdr")(
                **common, dsdr_correct=inputs.correct, dsdr_diversity=stats.diversity
            )
            # Put before the advantages: the metadata of the last put lists it for the actor.
            coef = torch.where(inputs.real, stats.coef, torch.zeros_like(stats.coef))
            tq.kv_batch_put(
                keys=batch.keys,
                partition_id=batch.partition_id,
                fields=TensorDict({COEF_FIELD: coef, "dsdr_correct": inputs.correct.float()}, batch_size=len(batch)),
            )
            metrics.update(dsdr_metrics(inputs, stats, algorithm.dsdr))
            metrics.update(self._entropy_metrics(data, inputs))
        else:
            contributions = setpo_stats(inputs)
            advantages, returns = get_adv_estimator_fn("setpo")(
                **common, setpo_contributions=contributions, setpo_correct=inputs.correct
            )
            metrics["setpo/contribution_mean"] = float(contributions[inputs.real].mean()) if inputs.real.any() else 0.0
            metrics.update(group_outcomes(inputs.index, inputs.correct, inputs.real))
        data.batch["advantages"], data.batch["returns"] = advantages, returns

        fields = ["advantages", "returns"]
        if algorithm.use_kl_in_reward:
            fields.append("token_level_rewards")
        if rollout_correction:
            fields.append("response_mask")
            if "rollout_is_weights" in data.batch.keys():
                fields.append("rollout_is_weights")
        output = TensorDict(
            {f: response_to_nested(data.batch[f], response_mask) for f in fields}, batch_size=len(batch)
        )
        batch = tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=output)
        prefix = "dsdr" if estimator == "dsdr" else "setpo"
        metrics[f"{prefix}/diversity_time_trainer_s"] = time.perf_counter() - start
        metrics[f"{prefix}/diversity_time_reward_s"] = inputs.scoring_seconds
        return batch

    @staticmethod
    def _entropy_metrics(data: DataProto, inputs) -> dict[str, float]:
        """Mean ``H_hat`` of correct and incorrect rollouts at the start of the update (rho = 1)."""
        if "old_log_probs" not in data.batch.keys():
            return {}
        h = sequence_mean(-data.batch["old_log_probs"].float(), data.batch["response_mask"])
        wrong = inputs.real & ~inputs.correct
        return {
            "dsdr/entropy_correct": float(h[inputs.correct].mean()) if inputs.correct.any() else 0.0,
            "dsdr/entropy_incorrect": float(h[wrong].mean()) if wrong.any() else 0.0,
        }

    def _update_actor(self, batch, metrics: dict):
        batch = super()._update_actor(batch, metrics)
        for key in [k for k in metrics if k.startswith("actor/dsdr/")]:
            metrics[key[len("actor/") :]] = metrics.pop(key)
        return batch

