"""The verifier's process pool settings: one typed config, read from verl's reward kwargs.

``reward.custom_reward_function.reward_kwargs`` is what verl hands to the reward function as
keyword arguments under every reward manager (naive for GRPO, dapo, dsdr), so the pool of the
process that scores is sized where the rest of the reward is configured:

- ``scoring_workers``: hard-time-limit scoring processes per reward process (>= 1);
- ``scoring_memory_mb``: address-space limit of each, in MB (>= 0; 0 disables it).

A key left out or null takes the default written here. The environment variables
``VERL_DSDR_SCORING_WORKERS`` and ``VERL_DSDR_SCORING_MEMORY_MB`` still work where the key is not
set, with a ``FutureWarning`` naming the key. Imports nothing of the package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verl_dsdr.utils.env_vars import deprecated_int_env

__all__ = ["ScoringPool", "KEY_PREFIX", "KEYS", "ENV_VARS", "reward_kwargs", "scoring_pool"]

KEY_PREFIX = "reward.custom_reward_function.reward_kwargs"
"""Where the keys live in the composed config."""


@dataclass(frozen=True)
class ScoringPool:
    """``scoring_workers`` and ``scoring_memory_mb`` (see the module docstring); checked on construction."""

    scoring_workers: int = 4
    scoring_memory_mb: int = 4096

    def __post_init__(self) -> None:
        for key, low in (("scoring_workers", 1), ("scoring_memory_mb", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"{KEY_PREFIX}.{key}={value!r} is invalid: it must be an integer >= {low}"
                    + (" (0 disables the limit)" if key == "scoring_memory_mb" else "")
                )

    @property
    def memory_limit_mb(self) -> int | None:
        """The limit for :class:`~verl_dsdr.scoring.bounded.BoundedRunner` (None: no limit)."""
        return self.scoring_memory_mb or None


ENV_VARS: dict[str, str] = {
    "scoring_workers": "VERL_DSDR_SCORING_WORKERS",
    "scoring_memory_mb": "VERL_DSDR_SCORING_MEMORY_MB",
}
"""The environment variables that set these before they were config keys (deprecated)."""

KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ScoringPool))
"""The reward-kwargs keys this config reads."""


def _from_env(key: str) -> int | None:
    """The deprecated environment variable's value for ``key``, with a FutureWarning; None when unset."""
    value = deprecated_int_env(ENV_VARS[key], f"{KEY_PREFIX}.{key}")
    if value is not None and value <= 0:  # what the variable always meant: no memory limit, or the default workers
        return 0 if key == "scoring_memory_mb" else None
    return value


def scoring_pool(reward_kwargs: Mapping[str, Any] | None = None) -> ScoringPool:
    """The pool settings from ``reward_kwargs`` (other keys are ignored), else the environment, else the defaults.

    A value of the wrong type or out of range raises ``ValueError`` naming the key. Integers given as
    strings (an environment variable, a command-line override) are read as integers.
    """
    kwargs = reward_kwargs or {}
    values: dict[str, int] = {}
    for key in KEYS:
        given = kwargs.get(key)
        if given is None:
            from_env = _from_env(key)
            if from_env is not None:
                values[key] = from_env
            continue
        if isinstance(given, str):
            try:
                given = int(given.strip())
            except ValueError:
                raise ValueError(f"{KEY_PREFIX}.{key}={given!r} is not an integer") from None
        values[key] = given
    return ScoringPool(**values)


def reward_kwargs(config: Any) -> Mapping[str, Any]:
    """``reward.custom_reward_function.reward_kwargs`` of a composed config (empty when absent)."""
    function = config.reward.get("custom_reward_function") or {}
    return function.get("reward_kwargs") or {}
