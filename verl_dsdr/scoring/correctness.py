"""Rule-based 0/1 verifier r_i (Eq. 1-3), the same for training rewards and for evaluation.

1. The final answer is extracted (``answers.py``: last ``TAIL_CHARS`` characters, boxes or
   ``Answer:`` lines depending on the data source; several different ones are several values).
2. Equal normalised strings -> 1.0 at once (no sympy).
3. The hedge rule (``hedge.py``): an answer that says more than one answer scores 0.
4. math-verify parses both and compares them symbolically, in the shared bounded worker pool
   (``bounded.py``). One call for one response, all ground-truth items together, lasts at most
   ``CALL_BUDGET`` x ``time_limit`` of waiting and computing; the start-up of a worker is never
   charged to it. math-verify's own signal-based timeouts are off (signals do not work in
   reward-loop threads). A timeout, crash or parse failure scores 0.0. Nothing here raises on
   bad responses.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterable
from typing import Any

from verl_dsdr.scoring.answers import TAIL_CHARS, extract_answer, fast_key, strip_answer
from verl_dsdr.scoring.hedge import hedge_reason

__all__ = [
    "TAIL_CHARS",
    "MAX_ANSWER_CHARS",
    "CALL_BUDGET",
    "extract_answer",
    "score_correctness",
    "compute_score",
]

MAX_ANSWER_CHARS = 1000
"""Longer extracted answers are only compared as strings (never parsed): they are degenerate."""
CALL_BUDGET = 2.0
"""One scoring call (every ground-truth item) waits and computes at most this many ``time_limit``s."""

_log = logging.getLogger(__name__)


def _timeout_free(fn: Any, *names: str) -> dict[str, None]:
    """Keyword arguments that switch math-verify's signal timeouts off, for the installed version."""
    params = inspect.signature(fn).parameters
    return {name: None for name in names if name in params}


def _math_verify(answer: str, ground_truth: str) -> bool:
    """Runs in the bounded worker: math-verify parse + verify with its own timeouts disabled."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    parse_kwargs = _timeout_free(parse, "parsing_timeout")
    verify_kwargs = _timeout_free(verify, "timeout_seconds")
    gold = parse("\\boxed{" + ground_truth + "}", configs, **parse_kwargs)
    pred = parse("\\boxed{" + answer + "}", configs, **parse_kwargs)
    if not gold or not pred:
        return False
    return bool(verify(gold, pred, **verify_kwargs))


def _ground_truths(ground_truth: Any) -> list[str]:
    if isinstance(ground_truth, (list, tuple)) or type(ground_truth).__name__ == "ndarray":
        items: Iterable[Any] = list(ground_truth)
    else:
        items = [ground_truth]
    out = []
    for item in items:
        if item is None:
            continue
        text = strip_answer(str(item))
        if text:
            out.append(text)
    return out


def score_correctness(
    response: str, ground_truth: Any, data_source: str | None = None, time_limit: float = 2.0
) -> float:
    """1.0 if the response's final answer equals the ground truth, else 0.0. Never raises.

    ground_truth: a string (numbers are converted with ``str``); a list or tuple means any of
    its items is accepted. time_limit: hard wall-clock seconds for one symbolic comparison; the
    whole call (every item, waits for a free worker included) is bounded by ``CALL_BUDGET`` x
    ``time_limit``, start-ups of workers excluded.
    """
    if not time_limit > 0:
        raise ValueError(f"score_correctness: time_limit must be > 0 seconds, got {time_limit!r}")
    try:
        answer = extract_answer(response, data_source)
        truths = _ground_truths(ground_truth)
    except Exception:  # pathological input (e.g. an object whose str() raises)
        _log.debug("answer extraction failed", exc_info=True)
        return 0.0
    if answer is None or not truths:
        return 0.0
    answer_key = fast_key(answer)
    if answer_key and any(answer_key == fast_key(truth) for truth in truths):
        return 1.0
    if len(answer) > MAX_ANSWER_CHARS:
        return 0.0
    candidates = [truth for truth in truths if hedge_reason(answer, truth) is None]
    if not candidates:
        return 0.0
    return 1.0 if _verify_any(answer, candidates, time_limit) else 0.0


def _verify_any(answer: str, truths: list[str], time_limit: float) -> bool:
    """math-verify against each truth in the worker pool, under one deadline for the whole call."""
    from verl_dsdr.scoring import correctness as importable  # this file may be loaded by path
    from verl_dsdr.scoring.bounded import scoring_runner

    runner = scoring_runner()
    deadline = time.monotonic() + CALL_BUDGET * time_limit
    for truth in truths:
        left = deadline - time.monotonic()
        if left <= 0:
            _log.warning(
                "verifier call budget (%g s) spent before every ground truth was tried", CALL_BUDGET * time_limit
            )
            return False
        # The worker unpickles the function by module name: use the package's copy, since verl
        # may have loaded this file under a generated module name (custom_reward_function.path).
        outcome = runner.call_outcome(
            importable._math_verify, (answer, truth), timeout=min(time_limit, left), wait=left
        )
        deadline += outcome.startup_wait  # a worker's start-up is never charged to a call
        if outcome.ok and outcome.value:
            return True
        if not outcome.ok:
            log = _log.warning if outcome.status == "busy" else _log.debug
            log("math-verify %s: %s", outcome.status, outcome.detail)
    return False


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict[str, Any]:
    """verl custom-reward-function entry point: ``{"score": 0.0 or 1.0, "acc": bool}``.

    Use with ``reward.custom_reward_function.path=pkg://verl_dsdr.scoring.correctness`` (or the
    file path) and ``name=compute_score``. ``reward_kwargs`` may set ``time_limit`` and the scoring
    pool's ``scoring_workers`` and ``scoring_memory_mb`` (:mod:`verl_dsdr.scoring.pool_config`); other
    keyword arguments verl passes (reward_router_address, ...) are ignored.
    """
    from verl_dsdr.scoring.bounded import configure_scoring
    from verl_dsdr.scoring.pool_config import KEYS, scoring_pool

    if any(kwargs.get(key) is not None for key in KEYS):  # a call without them keeps the process's pool
        configure_scoring(scoring_pool(kwargs))
    time_limit = float(kwargs.get("time_limit", 2.0))
    score = score_correctness(solution_str, ground_truth, data_source=data_source, time_limit=time_limit)
    return {"score": score, "acc": score == 1.0}


def warm_up() -> bool:
    """One real math-verify comparison, run by each scoring worker before it takes a call.

    It loads math-verify's grammars and sympy's lazily imported parts, so that the first real
    call is as fast as the later ones (``(x+1)^2 = x^2+2x+1``: parse, expand, compare).
    """
    return _math_verify("(x+1)^2", "x^2+2x+1")
