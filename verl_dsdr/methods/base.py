"""What a method is: one :class:`Method` subclass, registered by name. Imports neither verl nor ray.

A method (``algorithm.adv_estimator=<name>``) is one class in one file of this folder (or any
module named in ``algorithm.method_modules``): its typed settings (``config_cls``, the section
``algorithm.<name>``), what it needs from the reward side (:class:`RewardField` objects the
``dsdr`` reward manager computes per trajectory), its group step (the whole batch, in the
trainer), its advantage estimator and optionally its actor loss. It is registered with
:func:`verl_dsdr.methods.registry.register_method`, the way verl registers estimators
(``register_adv_est``); the reward manager, the wire and the group trainer only ask the class.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

MANAGER_HINT = (
    "set reward.reward_manager.name=dsdr (python -m verl_dsdr.main_ppo does this for every method that needs it)"
)


class RewardField(abc.ABC):
    """One per-trajectory value a method needs from the reward loop (an embedding, a formula set, ...).

    Computed by the ``dsdr`` reward manager in the reward workers while the batch is still being
    generated, carried as ``reward_extra_info[key]`` (picklable: it crosses processes; numpy arrays
    travel compactly and collate in one call) and turned into one batch value by :meth:`collate`
    in the trainer, where the group step reads it as
    ``inputs.fields[key]``. :meth:`compute` is abstract: a field without it fails when created,
    not in a reward worker mid-run.
    """

    key: str = ""

    def check(self) -> None:  # noqa: B027 (optional: nothing to check by default)
        """Before Ray starts: raise ``ValueError`` for settings that cannot work here (a missing folder)."""

    def start(self, config: Any) -> None:  # noqa: B027 (optional: nothing to load by default)
        """Once per reward-worker process, before the first trajectory (load a model); idempotent."""

    @abc.abstractmethod
    async def compute(self, text: str) -> Any:
        """The value of one decoded response (picklable: a number, a string, a numpy array, ...)."""

    def collate(self, values: list[Any], real: torch.Tensor) -> Any:
        """The batch value from per-sample values (``None`` on verl's padding rows, ``real`` False there)."""
        return values


@dataclass
class GroupInputs:
    """Per-sample inputs of a group step, batch order. ``real`` is False for verl's padding rows."""

    index: np.ndarray  # group id per sample; padding rows get ids of their own
    real: torch.Tensor  # bool [B]
    correct: torch.Tensor  # bool [B], False on padding rows
    fields: dict[str, Any] = field(default_factory=dict)  # RewardField.key -> collated batch value
    scoring_seconds: float = 0.0  # reward-side time spent on these inputs, summed
    tokens: dict[str, torch.Tensor] = field(default_factory=dict)  # padded [B, L] fields (Method.trainer_fields)

    def field(self, key: str) -> Any:
        """The collated reward-side field ``key``; a clear error when the reward loop did not send it."""
        if key not in self.fields:
            raise ValueError(f"the group step needs the reward-side field {key!r}: {MANAGER_HINT}")
        return self.fields[key]


@dataclass
class GroupStepResult:
    """What a group step hands back: estimator inputs, per-sample loss fields, metrics.

    ``estimator_inputs`` are keyword arguments of the method's estimator (per sample, batch
    order); ``sample_fields`` travel with each sample to the actor's loss.
    """

    estimator_inputs: dict[str, torch.Tensor]
    sample_fields: dict[str, torch.Tensor]
    metrics: dict[str, float]


class Method(abc.ABC):
    """Base of every method. Subclasses set the class attributes and override what they use.

    Only :meth:`advantage` is required (abstract: :func:`~verl_dsdr.methods.registry.register_method`
    creates the instance, so a method without it fails at registration, not at verl's first step). A method with :attr:`reward_fields` or a
    :meth:`group_step` gets the ``dsdr`` reward manager and a group step every training step; one
    with a :attr:`loss` gets it installed on the actor workers with verl's ``set_loss_fn``.
    """

    name: ClassVar[str] = ""  # algorithm.adv_estimator value, set by register_method
    config_cls: ClassVar[type]  # its typed settings (a methods.params.Settings dataclass), algorithm.<name>
    min_group_size: ClassVar[int] = 2  # rollouts per prompt (actor_rollout_ref.rollout.n) the method needs
    trainer_fields: ClassVar[tuple[str, ...]] = ()  # per-token TransferQueue fields the group step reads
    # The actor loss ``loss(config, model_output, data, dp_group, *, settings)``; None: verl's own.
    loss: ClassVar[Callable[..., Any] | None] = None

    def build_settings(self, algorithm: Any) -> Any:
        """The typed settings from verl's ``algorithm`` section (default: ``algorithm.<name>``)."""
        from verl_dsdr.methods.params import build

        return build(self.config_cls, algorithm.get(self.name))

    def reward_fields(self, settings: Any) -> Sequence[RewardField]:
        """What the reward loop computes per trajectory for this method (none: verl's reward manager serves)."""
        return ()

    def reward_fields_in_validation(self, settings: Any) -> bool:
        """Whether validation prompts get the reward fields too (default: training only)."""
        return False

    def group_step(self, inputs: GroupInputs, settings: Any) -> GroupStepResult | None:
        """Per-batch work in the trainer before verl's advantage step; None: nothing to do."""
        return None

    @property
    def has_group_step(self) -> bool:
        return type(self).group_step is not Method.group_step

    @property
    def needs_reward_extras(self) -> bool:
        """True when the method needs the project's reward manager (correctness and per-trajectory fields)."""
        return self.has_group_step

    @staticmethod
    @abc.abstractmethod
    def advantage(
        token_level_rewards: torch.Tensor, response_mask: torch.Tensor, index: np.ndarray, config: Any = None, **_: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimator verl calls (registered as ``register_adv_est(name)``): (advantages, returns), ``[B, L]``."""

    def actor_overrides(self, settings: Any, config: Any) -> dict[str, Any]:
        """verl keys this method needs set (dotted key -> value), applied by ``main_ppo`` before Ray."""
        return {}

    def start_notes(self, settings: Any, config: Any) -> list[str]:
        """Lines ``main_ppo`` prints at start-up (choices the user should know about)."""
        return []


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of ``values [B]`` over ``mask`` (bool ``[B]``); 0.0 when the mask is empty."""
    return float(values[mask].mean()) if bool(mask.any()) else 0.0


def group_outcomes(index: Sequence | np.ndarray, correct: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """``groups/``: fractions of all-correct, all-wrong and mixed groups among real prompts (GRPO's signal is in mixed ones)."""
    groups: dict = {}
    for i in torch.nonzero(real, as_tuple=True)[0].tolist():
        groups.setdefault(index[i], []).append(bool(correct[i]))
    n = max(1, len(groups))
    all_correct = sum(all(v) for v in groups.values())
    all_wrong = sum(not any(v) for v in groups.values())
    return {
        "groups/frac_all_correct": all_correct / n,
        "groups/frac_all_wrong": all_wrong / n,
        "groups/frac_mixed": (len(groups) - all_correct - all_wrong) / n,
    }
