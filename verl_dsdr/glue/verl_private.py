"""Every place where verl-dsdr follows or overrides a private name of verl 0.9.1, in one module.

verl's public extension points (``register_adv_est``, the reward-loop ``register``,
``set_loss_fn``, ``register_trainer`` / ``get_trainer_cls``, TransferQueue's ``kv_batch_get`` /
``kv_batch_put``) are used where they are needed. What is not public is here, each with the
verl file and line it was written against, under one version check
(:func:`check_verl_version`) that every path runs: ``verl_dsdr.main_ppo`` before Ray starts,
the plugin in every Ray process, and the CPU backend (``verl_dsdr/cpu/patches.py``, which
holds the CPU-only private patches and calls the same check).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

SUPPORTED_VERL_VERSION = "0.9.1"


class UnsupportedVerlVersion(RuntimeError):
    """The installed verl is not the version whose internals verl-dsdr was written against."""


def check_verl_version(version: str | None = None) -> None:
    """Raise a readable error unless verl is the version this module follows."""
    if version is None:
        import verl

        version = getattr(verl, "__version__", "unknown")
    if version != SUPPORTED_VERL_VERSION:
        raise UnsupportedVerlVersion(
            f"verl-dsdr follows verl {SUPPORTED_VERL_VERSION} internals (its trainer step, replay buffer and "
            f"validation loop), but verl {version} is installed. Install the supported version "
            f"(pip install 'verl[verl-core]=={SUPPORTED_VERL_VERSION}')."
        )


def padding_rows(batch: Any) -> list[bool]:
    """True for verl's synthetic padding rows of a ``KVBatchMeta``.

    ``verl/trainer/ppo/padding_utils.py:136`` tags them ``is_padding=True``; verl reads the tag
    the same way in ``trainer/ppo/v1/trainer_base.py:553`` and ``:1870``. Padding rows copy the
    first real sample's ``extra_fields`` (reward extras included), so group code must skip them.
    """
    return [bool(tag.get("is_padding", False)) for tag in batch.tags]


def set_replay_poll_interval(replay_buffer: Any, seconds: float) -> None:
    """Set how often verl's replay buffer polls TransferQueue for finished rollouts.

    ``verl/trainer/ppo/v1/replay_buffer.py:144`` defaults ``poll_interval`` to 2.0 s (stored as
    the attribute ``poll_interval`` at ``:157``) and ``trainer/ppo/v1/trainer_base.py:155``
    builds the buffer without passing it, so every generation phase is rounded up to a multiple
    of 2 s. Where a whole step takes seconds (small models, the CPU backend) that rounding
    dominates step time.
    """
    if seconds <= 0:
        raise ValueError(f"trainer.v1.sampler.poll_interval must be > 0 seconds, got {seconds}")
    replay_buffer.poll_interval = float(seconds)


class _FlaggedLoader:
    """A validation dataloader whose every batch carries ``flag=True`` per prompt to the reward loop."""

    def __init__(self, loader: Any, flag: str):
        self.loader, self.flag = loader, flag

    def __iter__(self) -> Iterator[dict]:
        for batch in self.loader:
            batch[self.flag] = np.ones(len(batch["raw_prompt"]), dtype=bool)
            yield batch

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


@contextlib.contextmanager
def flagged_validation(trainer: Any, flag: str) -> Iterator[None]:
    """While the block runs, validation prompts carry ``flag`` (a non-tensor field) to the reward loop.

    ``PPOTrainer._validate`` (``verl/trainer/ppo/v1/trainer_base.py:1031``) iterates the private
    attribute ``self.val_dataloader`` (built at ``:752``, read at ``:1048``) and passes each
    batch dict's fields on to the agent loop, whose reward manager sees them in
    ``non_tensor_batch``. There is no public hook to tag validation samples.
    """
    loader = trainer.val_dataloader
    trainer.val_dataloader = _FlaggedLoader(loader, flag)
    try:
        yield
    finally:
        trainer.val_dataloader = loader


if TYPE_CHECKING:  # the mixin always sits on verl's trainer; not imported at run time (see the plugin)
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer as _TrainerBase
else:
    _TrainerBase = object


class PrivateHooks(_TrainerBase, metaclass=abc.ABCMeta):
    """Mixin that overrides verl's private ``PPOTrainer`` methods and hands them to public hooks.

    Overridden (``verl/trainer/ppo/v1/trainer_base.py``): ``_build_replay_buffer`` (:139),
    ``_validate`` (:1031), ``_compute_advantage`` (:1743), ``_update_actor`` (:1827). All three
    V1 trainers (``sync``, ``colocate_async``, ``separate_async``) inherit these from
    ``PPOTrainer``, so the same mixin serves every ``trainer.v1.trainer_mode``. The subclass
    implements the four abstract hooks below. ``ABCMeta`` is also the metaclass of verl's
    ``PPOTrainer`` (an ``ABC``), so the combined trainer classes have no metaclass conflict.
    """

    @abc.abstractmethod
    def poll_interval(self) -> float | None:
        """Seconds between the replay buffer's polls; None keeps verl's."""

    @abc.abstractmethod
    def validation_flag(self) -> str:
        """The non-tensor field that marks validation prompts for the reward loop."""

    @abc.abstractmethod
    def group_advantage(self, batch: Any, metrics: dict, verl_step: Callable) -> Any:
        """verl's advantage step for ``batch``, with the group work around ``verl_step(batch, metrics)``."""

    @abc.abstractmethod
    def after_actor_update(self, metrics: dict) -> None:
        """Called with the step's metrics after verl's actor update."""

    def _build_replay_buffer(self) -> Any:
        buffer = super()._build_replay_buffer()
        seconds = self.poll_interval()
        if seconds is not None:
            set_replay_poll_interval(buffer, seconds)
        return buffer

    def _validate(self, *args: Any, **kwargs: Any) -> Any:
        with flagged_validation(self, self.validation_flag()):
            return super()._validate(*args, **kwargs)

    def _compute_advantage(self, batch: Any, metrics: dict) -> Any:
        # verl's own sequence (KL-in-reward, rollout correction, multi-trajectory advantages,
        # write-back of advantages/returns) runs unchanged as `verl_step`.
        verl_step: Callable = super()._compute_advantage
        return self.group_advantage(batch, metrics, verl_step)

    def _update_actor(self, batch: Any, metrics: dict) -> Any:
        batch = super()._update_actor(batch, metrics)
        self.after_actor_update(metrics)
        return batch
