"""The ``hf_cpu`` rollout's own config keys, typed: defaults and ranges written once, here.

verl hands each rollout backend its ``actor_rollout_ref.rollout.engine_kwargs.<name>`` section
(vLLM reads ``engine_kwargs.vllm``), so the HF sampling server's settings live under
``engine_kwargs.hf_cpu``; ``preset=cpu`` writes them out, so that a plain override sets them:

- ``num_threads``: torch threads of each rollout server (>= 1); null: ``min(2, CPU count)``, the
  cores a server shares with the trainer workers on a small machine.

The environment variable ``VERL_DSDR_CPU_THREADS`` still works where the key is not set, with a
``FutureWarning`` naming the key. Imports nothing of the package: the launching process checks
these before Ray starts (:mod:`verl_dsdr.config_checks`) and the replica resolves them for its
server (:func:`verl_dsdr.cpu.rollout.server_settings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verl_dsdr.utils.env_vars import deprecated_int_env

__all__ = ["HFCPUSettings", "NAME", "KEY_PREFIX", "ENV_VAR", "hf_cpu_section", "hf_cpu_settings"]

NAME = "hf_cpu"
"""The rollout's registered name (``verl_dsdr.cpu.rollout_names.ROLLOUT_NAME``) and its ``engine_kwargs`` key."""

KEY_PREFIX = f"actor_rollout_ref.rollout.engine_kwargs.{NAME}"
"""Where the keys live in the composed config."""

ENV_VAR = "VERL_DSDR_CPU_THREADS"
"""The environment variable that set ``num_threads`` before it was a config key (deprecated)."""

MAX_DEFAULT_THREADS = 2


def default_threads() -> int:
    """``num_threads`` when it is not set: ``min(2, CPU count)`` of this machine."""
    return max(1, min(MAX_DEFAULT_THREADS, os.cpu_count() or 1))


@dataclass(frozen=True)
class HFCPUSettings:
    """``num_threads`` (see the module docstring); checked on construction."""

    num_threads: int

    def __post_init__(self) -> None:
        value = self.num_threads
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{KEY_PREFIX}.num_threads={value!r} is invalid: it must be an integer >= 1 "
                "(or null for min(2, CPU count))"
            )


def _threads_from_env() -> int | None:
    """The deprecated environment variable's value, with a FutureWarning; None when unset."""
    value = deprecated_int_env(ENV_VAR, f"{KEY_PREFIX}.num_threads")
    if value is not None and value < 1:
        raise ValueError(f"{ENV_VAR}={str(value)!r} is not an integer >= 1; set {KEY_PREFIX}.num_threads instead")
    return value


def hf_cpu_settings(section: Mapping[str, Any] | None = None) -> HFCPUSettings:
    """The settings from ``engine_kwargs.hf_cpu`` (other keys are ignored), else the environment, else the defaults.

    A value of the wrong type or out of range raises ``ValueError`` naming the key. An integer given
    as a string is read as an integer.
    """
    given = (section or {}).get("num_threads")
    if given is None:
        from_env = _threads_from_env()
        return HFCPUSettings(default_threads() if from_env is None else from_env)
    if isinstance(given, str):
        try:
            given = int(given.strip())
        except ValueError:
            raise ValueError(f"{KEY_PREFIX}.num_threads={given!r} is not an integer") from None
    return HFCPUSettings(given)


def hf_cpu_section(rollout: Any) -> Mapping[str, Any]:
    """``engine_kwargs.hf_cpu`` of a rollout config (verl's ``RolloutConfig`` or its ``DictConfig``; empty when absent)."""
    kwargs = getattr(rollout, "engine_kwargs", None) or {}
    return kwargs.get(NAME) or {}
