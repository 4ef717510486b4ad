"""Helpers shared by the registered estimators (torch and numpy only; never verl or ray)."""

from __future__ import annotations

from typing import Any

import torch

from verl_dsdr.methods import context
from verl_dsdr.methods.params import build

GRPO_EPSILON = 1e-6  # verl's compute_grpo_outcome_advantage default


def settings(config: Any, cls: Any) -> Any:
    """The method's typed settings from verl's ``algorithm`` section (``config.<name>``); defaults when absent."""
    name = cls.KEY.rsplit(".", 1)[-1]
    values = None
    if config is not None:
        values = config.get(name) if hasattr(config, "get") else getattr(config, name, None)
    return build(cls, values)


def norm_by_std(config: Any) -> bool:
    """verl's ``algorithm.norm_adv_by_std_in_grpo`` (default True)."""
    if config is None or not hasattr(config, "get"):
        return True
    return bool(config.get("norm_adv_by_std_in_grpo", True))


def step_input(method: str, name: str, given: torch.Tensor | None, index: Any) -> torch.Tensor:
    """An estimator input: passed explicitly, or published by the group trainer for this batch."""
    if given is not None:
        return given
    found = context.lookup(name, index)
    if found is None:
        raise ValueError(
            f"the {method!r} advantage estimator needs `{name}`, which verl's stock trainer does not pass: "
            "run training through `python -m verl_dsdr.main_ppo` (its group trainer computes it every step)"
        )
    return found


def last_token_bonus(response_mask: torch.Tensor, bonus: torch.Tensor) -> torch.Tensor:
    """A ``[B, L]`` tensor holding ``bonus[i]`` at row i's last valid token, zero elsewhere."""
    out = torch.zeros_like(response_mask, dtype=torch.float32)
    lengths = response_mask.sum(dim=-1).long()
    rows = torch.nonzero(lengths > 0, as_tuple=True)[0]
    out[rows, lengths[rows] - 1] = bonus[rows].to(out.dtype)
    return out


def row_value(token_values: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """The per-row value of a row-constant ``[B, L]`` tensor, read at the first token (0 for empty rows)."""
    return token_values[:, 0] * (response_mask.sum(dim=-1) > 0).to(token_values.dtype)
