"""Per-trajectory scoring: correctness r_i, formula sets S(o_i) and response embeddings z_i.

Kept light: nothing heavy (sentence-transformers, math-verify, sympy, torch) is imported when the
package is; each name below loads its module on first use. These functions run in verl's
reward-loop workers (one trajectory at a time, in threads) and in the evaluation CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "score_correctness": "correctness",
    "extract_answer": "answers",
    "hedge_reason": "hedge",
    "last_boxed": "boxed",
    "compute_score": "correctness",
    "extract_formulas": "formulas",
    "canonical_key": "formulas",
    "ResponseEmbedder": "embedder",
    "default_model_path": "embedder",
    "validate_embedder_config": "embedder",
    "BoundedRunner": "bounded",
    "scoring_runner": "bounded",
    "configure_scoring": "bounded",
    "ScoringPool": "pool_config",
    "scoring_pool": "pool_config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
