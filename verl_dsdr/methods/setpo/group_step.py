"""SetPO's group step: leave-one-out set-diversity contributions ``s_i`` of a whole batch. No verl, no ray."""

from __future__ import annotations

import torch

from verl_dsdr.algorithms.setpo import setpo_contributions
from verl_dsdr.methods.base import GroupInputs, GroupStepResult, masked_mean
from verl_dsdr.methods.setpo.config import SetPOConfig


def setpo_stats(inputs: GroupInputs) -> torch.Tensor:
    """SetPO's leave-one-out contributions ``s_i``; 0 for padding rows."""
    s = setpo_contributions(inputs.embeddings, inputs.index)
    return torch.where(inputs.real, s, torch.zeros_like(s))


def group_step(inputs: GroupInputs, settings: SetPOConfig) -> GroupStepResult:
    contributions = setpo_stats(inputs)
    return GroupStepResult(
        estimator_inputs={"setpo_contributions": contributions, "setpo_correct": inputs.correct},
        sample_fields={},
        metrics={"setpo/contribution_mean": masked_mean(contributions, inputs.real)},
    )
