"""What a method is made of, and what its group step reads and returns. Imports neither verl nor ray.

A method (``algorithm.adv_estimator=<name>``) is described once by a :class:`MethodSpec`
(see :mod:`verl_dsdr.methods`): what it needs from the reward loop, whether it needs the
group trainer, its minimum group size, and where its pieces live. Its group step turns
:class:`GroupInputs` (per-sample, batch order) into a :class:`GroupStepResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

MANAGER_HINT = (
    "set reward.reward_manager.name=dsdr (python -m verl_dsdr.main_ppo does this for every method that needs it)"
)


@dataclass(frozen=True)
class MethodSpec:
    """One method, as every other part of the package sees it."""

    name: str  # algorithm.adv_estimator value; the settings live in algorithm.<name>
    config_cls: type  # its typed settings (a methods.params.Settings dataclass)
    estimator_module: str  # importing it registers the estimator with verl
    min_group_size: int = 2  # rollouts per prompt (actor_rollout_ref.rollout.n) the method needs
    needs_embeddings: bool = False  # from the reward loop: response embeddings z_i
    needs_formulas: bool = False  # from the reward loop: formula sets S(o_i)
    group_step: Optional[str] = None  # "module:function"; set -> the group trainer runs it every step
    loss: Optional[str] = None  # "module:function"; set -> installed on the actor workers with set_loss_fn
    trainer_fields: tuple[str, ...] = ()  # per-token fields the group step reads from the batch

    @property
    def needs_reward_extras(self) -> bool:
        """True when the method needs the project's reward manager (correctness and diversity inputs)."""
        return self.group_step is not None


@dataclass
class GroupInputs:
    """Per-sample inputs of a group step, batch order. ``real`` is False for verl's padding rows."""

    index: np.ndarray  # group id per sample; padding rows get ids of their own
    real: torch.Tensor  # bool [B]
    correct: torch.Tensor  # bool [B], False on padding rows
    embeddings: Optional[torch.Tensor] = None  # float32 [B, dim]
    formulas: Optional[list] = None  # frozenset of formula keys per sample
    scoring_seconds: float = 0.0  # reward-side time spent on these inputs, summed
    tokens: dict[str, torch.Tensor] = field(default_factory=dict)  # padded [B, L] fields (MethodSpec.trainer_fields)


@dataclass
class GroupStepResult:
    """What a group step hands back: estimator inputs, per-sample loss fields, metrics.

    ``estimator_inputs`` are keyword arguments of the method's registered estimator (per
    sample, batch order); ``sample_fields`` travel with each sample to the actor's loss.
    """

    estimator_inputs: dict[str, torch.Tensor]
    sample_fields: dict[str, torch.Tensor]
    metrics: dict[str, float]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float(values[mask].mean()) if bool(mask.any()) else 0.0


def group_outcomes(index: Sequence, correct: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
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
