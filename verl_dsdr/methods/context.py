"""The per-step inputs a registered estimator reads beside what verl passes it.

verl calls an estimator with ``token_level_rewards``, ``response_mask``, ``index`` and
``config`` only. The group trainer computes each step's per-sample inputs (correctness,
diversity, ...) and publishes them here for the duration of verl's own advantage step; the
estimator looks them up and checks that they belong to the batch it was given (same uids,
same order). Process-local; imports neither verl nor ray.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

_current: tuple[np.ndarray, dict[str, torch.Tensor]] | None = None


@contextlib.contextmanager
def step_inputs(uids: Sequence, inputs: dict[str, torch.Tensor]) -> Iterator[None]:
    """Publish ``inputs`` (per sample, in the order of ``uids``) while the block runs."""
    global _current
    previous = _current
    _current = (np.asarray(list(uids), dtype=object), dict(inputs))
    try:
        yield
    finally:
        _current = previous


def lookup(name: str, index: Any) -> torch.Tensor | None:
    """The published input ``name`` for the batch whose uids are ``index``; None when none is published."""
    if _current is None or name not in _current[1]:
        return None
    uids, inputs = _current
    given = np.asarray(list(index), dtype=object)
    if given.shape != uids.shape or not bool(np.all(given == uids)):
        raise RuntimeError(
            f"the estimator's batch ({len(given)} rows) is not the batch the group step computed {name!r} for "
            f"({len(uids)} rows): verl reordered or subset the batch between the group step and the estimator"
        )
    return inputs[name]
