"""SetPO (arXiv 2602.01062): GRPO advantages plus a leave-one-out set-diversity contribution, in one file.

- settings ``algorithm.setpo`` (:class:`SetPOConfig`);
- from the reward side: each rollout's embedding (the encoder of ``algorithm.setpo.embedder``; the
  older ``algorithm.dsdr.embedder`` still works for SetPO, with a deprecation message);
- group step: ``s_i = D(S) - D(S \\ {i})`` per rollout (:mod:`verl_dsdr.algorithms.setpo`);
- advantage (registered ``setpo``): verl's GRPO advantage plus ``lambda * s_i``; with
  ``lambda = 0`` it is verl's ``grpo``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from verl_dsdr.algorithms.setpo import setpo_contributions, setpo_shaped_advantages
from verl_dsdr.methods.base import GroupInputs, GroupStepResult, Method, RewardField, masked_mean
from verl_dsdr.methods.estimating import GRPO_EPSILON, norm_by_std, row_value, settings, step_input
from verl_dsdr.methods.params import Settings, build, param, section
from verl_dsdr.methods.registry import register_method
from verl_dsdr.methods.wire import EMBEDDING, EmbedderConfig, ResponseEmbedding

__all__ = ["SetPO", "SetPOConfig", "SetPOEmbedderConfig", "setpo_stats"]


@dataclass
class SetPOEmbedderConfig(EmbedderConfig):
    """``algorithm.setpo.embedder``: the encoder behind SetPO's kernel ``k(y_i, y_j)`` (same fields as DSDR's)."""

    KEY = "algorithm.setpo.embedder"
    _target_: str = "verl_dsdr.methods.setpo.SetPOEmbedderConfig"


@dataclass
class SetPOConfig(Settings):
    """``algorithm.setpo`` (``algorithm.adv_estimator=setpo``): ``A_i + lambda * s_i``.

    Response embeddings come from ``algorithm.setpo.embedder``.
    """

    KEY = "algorithm.setpo"
    _target_: str = "verl_dsdr.methods.setpo.SetPOConfig"
    lambda_: float = param(
        1.0, "weight of the leave-one-out set-diversity contribution s_i added to A_i", symbol="lambda", low=0.0
    )
    correct_only: bool = param(False, "add lambda * s_i to correct rollouts only")
    embedder: SetPOEmbedderConfig = section(SetPOEmbedderConfig, "the sentence encoder of the kernel k")


def _deprecated_embedder(algorithm: Any, setpo: SetPOConfig) -> dict | None:
    """``algorithm.dsdr.embedder`` values a SetPO run still sets there (the key before SetPO had its own)."""
    dsdr = algorithm.get("dsdr") if hasattr(algorithm, "get") else None
    old = dsdr.get("embedder") if dsdr is not None and hasattr(dsdr, "get") else None
    if not old:
        return None
    given = {k: old[k] for k in old if not str(k).startswith("_")}
    defaults = dataclasses.asdict(EmbedderConfig())
    changed = {k: v for k, v in given.items() if defaults.get(k) != v}
    own_defaults = dataclasses.asdict(SetPOEmbedderConfig())
    if not changed or dataclasses.asdict(setpo.embedder) != own_defaults:
        return None
    return changed


def setpo_stats(inputs: GroupInputs) -> torch.Tensor:
    """SetPO's leave-one-out contributions ``s_i``, float32 ``[B]``; 0 for padding rows."""
    s = setpo_contributions(inputs.field(EMBEDDING), inputs.index)
    return torch.where(inputs.real, s, torch.zeros_like(s))


def compute_setpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Any | None = None,
    setpo_contributions: torch.Tensor | None = None,
    setpo_correct: torch.Tensor | None = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO advantages plus ``lambda * s_i`` (SetPO's leave-one-out set-diversity contribution).

    Args:
        token_level_rewards: ``[B, L]``; response_mask: ``[B, L]``; index: ``[B]`` uids.
        config: verl's ``algorithm`` section (``algorithm.setpo``, ``norm_adv_by_std_in_grpo``).
        setpo_contributions: float ``[B]`` ``s_i``; setpo_correct: bool ``[B]`` (for ``correct_only``).
            Both default to what the group step published for this batch.

    Returns:
        (advantages, returns), both ``[B, L]``.
    """
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    contributions = step_input("setpo", "setpo_contributions", setpo_contributions, index)
    setpo = settings(config, SetPOConfig)
    correct = step_input("setpo", "setpo_correct", setpo_correct, index) if setpo.correct_only else None
    advantages, _returns = compute_grpo_outcome_advantage(
        token_level_rewards, response_mask, index, epsilon=GRPO_EPSILON, norm_adv_by_std_in_grpo=norm_by_std(config)
    )
    base = row_value(advantages, response_mask)  # verl broadcasts one outcome advantage per row
    shaped = setpo_shaped_advantages(base, contributions, correct=correct, lambda_=setpo.lambda_)
    out = shaped.to(advantages.dtype).unsqueeze(-1) * response_mask
    return out, out


@register_method("setpo")
class SetPO(Method):
    """SetPO: the rollout's leave-one-out contribution to its group's set diversity, added to its advantage."""

    config_cls = SetPOConfig
    advantage = staticmethod(compute_setpo_advantage)

    def build_settings(self, algorithm: Any) -> SetPOConfig:
        """``algorithm.setpo``; encoder values still given under ``algorithm.dsdr.embedder`` are used, with a warning."""
        setpo = build(SetPOConfig, algorithm.get("setpo"))
        changed = _deprecated_embedder(algorithm, setpo)
        if changed is None or algorithm.get("adv_estimator") != self.name:
            return setpo
        keys = ", ".join(f"algorithm.dsdr.embedder.{k}" for k in sorted(changed))
        warnings.warn(
            f"{keys} set for SetPO is deprecated: SetPO's encoder is algorithm.setpo.embedder now; "
            f"use {keys.replace('algorithm.dsdr.', 'algorithm.setpo.')}",
            FutureWarning,
            stacklevel=2,
        )
        values = {k: v for k, v in algorithm.get("setpo", {}).items()} if algorithm.get("setpo") else {}
        values["embedder"] = changed
        return build(SetPOConfig, values)

    def reward_fields(self, settings: SetPOConfig) -> Sequence[RewardField]:
        return (ResponseEmbedding(settings.embedder),)

    def group_step(self, inputs: GroupInputs, settings: SetPOConfig) -> GroupStepResult:
        contributions = setpo_stats(inputs)
        return GroupStepResult(
            estimator_inputs={"setpo_contributions": contributions, "setpo_correct": inputs.correct},
            sample_fields={},
            metrics={"setpo/contribution_mean": masked_mean(contributions, inputs.real)},
        )
