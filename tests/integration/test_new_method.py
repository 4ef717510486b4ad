"""A method defined in this one file, with a reward-side field of its own, trains through verl on CPU.

``length_rank`` is a toy method that exists only here: the reward workers measure each response's
length in characters (a new :class:`RewardField`), the group step turns it into a per-sample bonus
(shorter than the group's mean: positive), and the estimator adds the bonus to verl's GRPO
advantage. Nothing in ``verl_dsdr`` names it: the run finds it through
``algorithm.method_modules=[test_new_method]`` (this file, on ``PYTHONPATH``), which the plugin
imports in every Ray process. Its group step and estimator append what they saw to a JSONL file
(``VERL_DSDR_TEST_METHOD_LOG``), so the test can check that the estimator used the group step's
values in the same step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from verl_dsdr.algorithms.groups import group_layout
from verl_dsdr.methods import GroupInputs, GroupStepResult, Method, RewardField, register_method
from verl_dsdr.methods.base import masked_mean
from verl_dsdr.methods.estimating import GRPO_EPSILON, settings, step_input
from verl_dsdr.methods.params import Settings, param

NAME = "length_rank"
CHARS = "test_response_chars"
LOG_ENV = "VERL_DSDR_TEST_METHOD_LOG"


@dataclass
class LengthRankConfig(Settings):
    """``algorithm.length_rank``."""

    KEY = "algorithm.length_rank"
    weight: float = param(0.1, "bonus per unit of relative shortness", low=0.0)


class ResponseChars(RewardField):
    """The response's length in characters, measured in the reward workers."""

    key = CHARS

    async def compute(self, text: str) -> float:
        return float(len(text))

    def collate(self, values: list[Any], real: torch.Tensor) -> torch.Tensor:
        return torch.tensor([float(v or 0.0) for v in values])


def _log(record: dict) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


def compute_length_rank_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    config: Any | None = None,
    length_rank_bonus: torch.Tensor | None = None,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    bonus = step_input(NAME, "length_rank_bonus", length_rank_bonus, index)
    weight = settings(config, LengthRankConfig).weight
    advantages, _returns = compute_grpo_outcome_advantage(
        token_level_rewards, response_mask, index, epsilon=GRPO_EPSILON
    )
    out = (advantages + weight * bonus.to(advantages.dtype)[:, None]) * response_mask
    _log({"where": "advantage", "rows": len(index), "bonus_sum": float(bonus.sum()), "weight": weight})
    return out, out


@register_method(NAME)
class LengthRank(Method):
    config_cls = LengthRankConfig
    advantage = staticmethod(compute_length_rank_advantage)

    def reward_fields(self, settings: LengthRankConfig) -> Sequence[RewardField]:
        return (ResponseChars(),)

    def group_step(self, inputs: GroupInputs, settings: LengthRankConfig) -> GroupStepResult:
        chars = inputs.field(CHARS)
        layout = group_layout(inputs.index)
        total = torch.zeros(layout.n_groups).index_add(0, layout.ids, chars)
        mean = (total / layout.sizes.clamp_min(1))[layout.ids]
        bonus = torch.where(inputs.real, (mean - chars) / (mean + 1.0), torch.zeros_like(chars))
        _log({"where": "group_step", "rows": len(chars), "bonus_sum": float(bonus.sum())})
        return GroupStepResult(
            estimator_inputs={"length_rank_bonus": bonus},
            sample_fields={},
            metrics={f"{NAME}/mean_chars": masked_mean(chars, inputs.real)},
        )


@pytest.mark.integration
def test_a_method_in_one_file_trains_through_verl(assets, tmp_path):
    from verl_dsdr.launch import embedded_cpu_run, own_processes, run_training

    log = tmp_path / "method_log.jsonl"
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    run = run_training(
        [
            *embedded_cpu_run(assets, NAME, 2),
            "algorithm.method_modules=[test_new_method]",
            f"+algorithm.{NAME}.weight=0.5",
        ],
        tmp_path / "run",
        extra_env={"PYTHONPATH": path, LOG_ENV: str(log)},
    )
    assert not own_processes(run.token, run.ray_dir), "the run's processes were not all stopped"
    assert run.returncode == 0, run.tail()
    chars = run.series(f"{NAME}/mean_chars")
    assert len(chars) == 2 and min(chars) > 0  # the new reward-side field reached the group step
    assert len(run.series("actor/grad_norm")) == 2
    records = [json.loads(line) for line in log.read_text().splitlines()]
    steps = [r for r in records if r["where"] == "group_step"]
    estimates = [r for r in records if r["where"] == "advantage"]
    assert len(steps) == len(estimates) == 2
    for step, estimate in zip(steps, estimates):  # the estimator got this step's group-step values
        assert estimate["rows"] == step["rows"]
        assert estimate["bonus_sum"] == pytest.approx(step["bonus_sum"], abs=1e-5)
        assert estimate["weight"] == 0.5  # its own config section reached verl's estimator call
