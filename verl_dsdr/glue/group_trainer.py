"""One group trainer for every method and every verl trainer mode.

The trainer is the first place where all G rollouts of a prompt are together. Every step,
before verl's own advantage step, the group trainer reads what the method needs
(:class:`verl_dsdr.methods.base.Method`), decodes it (:mod:`verl_dsdr.methods.wire`), logs the
``groups/`` outcome fractions, runs the method's group step, puts its per-sample loss fields
into TransferQueue, publishes its estimator inputs (:mod:`verl_dsdr.methods.context`) and then
calls verl's ``_compute_advantage`` unchanged, so KL-in-reward, rollout correction and
multi-trajectory handling remain verl's. It combines with the trainer class verl registers for
``trainer.v1.trainer_mode`` (``sync``, ``colocate_async``, ``separate_async``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch
import transfer_queue as tq
from tensordict import TensorDict
from verl.trainer.ppo.v1 import PPOTrainerColocateAsync, PPOTrainerSeparateAsync, PPOTrainerSync, get_trainer_cls
from verl.utils.config import omega_conf_to_dataclass

from verl_dsdr.glue.verl_private import PrivateHooks, padding_rows
from verl_dsdr.methods import context, method_of, settings_of, wire
from verl_dsdr.methods.base import GroupInputs, Method, group_outcomes


def _as_list(values: Any) -> list:
    return list(values.tolist() if hasattr(values, "tolist") else values)


def _sequence_scores(scores: torch.Tensor) -> torch.Tensor:
    return torch.stack([row.sum() for row in scores.unbind(0)]) if scores.is_nested else scores.sum(-1)


class GroupTrainerMixin(PrivateHooks):
    """verl's trainer plus the method's group step and actor loss (see the module docstring)."""

    def init(self) -> None:
        super().init()
        spec = method_of(self.config)
        if spec is not None and spec.loss is not None:
            actor_config = omega_conf_to_dataclass(self.config.actor_rollout_ref.actor)
            loss = partial(spec.loss, config=actor_config, settings=settings_of(self.config, spec))
            self.actor_rollout_wg.set_loss_fn(loss)

    def poll_interval(self) -> float | None:
        seconds = self.config.trainer.v1.sampler.get("poll_interval", None)
        return None if seconds is None else float(seconds)

    def validation_flag(self) -> str:
        return wire.VALIDATE

    def group_inputs(self, batch: Any, spec: Method | None) -> tuple[list, GroupInputs]:
        """(verl's uids in batch order, the decoded per-sample inputs) of one step's batch."""
        padding = padding_rows(batch)
        if spec is None or not spec.has_group_step:
            fetched = tq.kv_batch_get(
                keys=batch.keys, partition_id=batch.partition_id, select_fields=["uid", "rm_scores"]
            )
            uids = _as_list(fetched["uid"])
            real = ~torch.tensor(padding, dtype=torch.bool)
            correct = (_sequence_scores(fetched["rm_scores"]) > 0) & real
            return uids, GroupInputs(index=np.asarray(uids, dtype=object), real=real, correct=correct)
        selected = ["uid", "extra_fields", *spec.trainer_fields]
        fetched = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=selected)
        uids = _as_list(fetched["uid"])
        extras = _as_list(fetched.pop("extra_fields"))
        fields = spec.reward_fields(settings_of(self.config, spec))
        inputs = wire.decode_batch(extras, uids, padding, fields)
        present = [f for f in spec.trainer_fields if f in fetched.keys()]  # noqa: SIM118 (a TensorDict)
        if present:
            padded = fetched.select(*present).to_padded_tensor()
            inputs.tokens = {f: padded[f] for f in present}
        return uids, inputs

    def group_advantage(self, batch: Any, metrics: dict, verl_step: Callable) -> Any:
        start = time.perf_counter()
        spec = method_of(self.config)
        uids, inputs = self.group_inputs(batch, spec)
        metrics.update(group_outcomes(inputs.index, inputs.correct, inputs.real))
        result = None if spec is None else spec.group_step(inputs, settings_of(self.config, spec))
        if spec is None or result is None:
            return verl_step(batch, metrics)
        if result.sample_fields:
            # Put before verl's own put: the metadata that put returns (handed to _update_actor)
            # lists every field stored so far, so these fields reach the actor workers.
            fields = TensorDict({k: v.float() for k, v in result.sample_fields.items()}, batch_size=len(batch))
            tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=fields)
        with context.step_inputs(uids, result.estimator_inputs):
            batch = verl_step(batch, metrics)
        metrics.update(result.metrics)
        metrics[f"{spec.name}/diversity_time_trainer_s"] = time.perf_counter() - start
        metrics[f"{spec.name}/diversity_time_reward_s"] = inputs.scoring_seconds
        return batch

    def after_actor_update(self, metrics: dict) -> None:
        """The loss's ``<method>/`` metrics come back prefixed ``actor/``; log them under the method's name."""
        spec = method_of(self.config)
        if spec is None:
            return
        prefix = f"actor/{spec.name}/"
        for key in [k for k in metrics if k.startswith(prefix)]:
            metrics[key[len("actor/") :]] = metrics.pop(key)


class GroupPPOTrainerSync(GroupTrainerMixin, PPOTrainerSync):
    """``trainer.v1.trainer_mode=sync``."""


class GroupPPOTrainerColocateAsync(GroupTrainerMixin, PPOTrainerColocateAsync):
    """``trainer.v1.trainer_mode=colocate_async``."""


class GroupPPOTrainerSeparateAsync(GroupTrainerMixin, PPOTrainerSeparateAsync):
    """``trainer.v1.trainer_mode=separate_async``."""


_GROUP_TRAINERS = {
    cls.__bases__[1]: cls for cls in (GroupPPOTrainerSync, GroupPPOTrainerColocateAsync, GroupPPOTrainerSeparateAsync)
}


def trainer_class_for(config: Any) -> type:
    """The group trainer on top of the class verl registers for ``trainer.v1.trainer_mode``."""
    base = get_trainer_cls(str(config.trainer.v1.trainer_mode))
    if base in _GROUP_TRAINERS:
        return _GROUP_TRAINERS[base]
    return type(f"Group{base.__name__}", (GroupTrainerMixin, base), {"__module__": __name__})
