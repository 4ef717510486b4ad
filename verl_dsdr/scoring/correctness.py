"""Rule-based 0/1 verifier r_i (Eq. 1-3), the same for training rewards and for evaluation.

Answer extraction looks only at the last ``TAIL_CHARS`` characters (final answers sit at the end;
this bounds the work on runaway responses):
- boxed form: the content of the last ``\\boxed{..}`` or ``\\fbox{..}`` (brace-matched; an
  unclosed last box counts as no boxed answer);
- DAPO form: the text after the last ``Answer:`` (case-insensitive, rest of that line), the
  convention of DAPO-Math prompts and of verl's ``math_dapo`` scorer.
For data sources whose name contains "dapo" the DAPO form is tried first and the boxed form is
the fallback; for all others the boxed form comes first and the DAPO form is the fallback.

Comparison: equal normalised strings -> 1.0 at once (no sympy). Otherwise math-verify parses
both and compares them symbolically, in the shared bounded worker under a hard ``time_limit``
(math-verify's own signal-based timeouts are switched off: signals do not work in reward-loop
threads). A timeout, crash or parse failure scores 0.0. Nothing here raises on bad responses.
"""

from __future__ import annotations

import inspect
import logging
import re
from typing import Any, Iterable

from verl_dsdr.scoring.formulas import normalise_formula

__all__ = [
    "TAIL_CHARS",
    "MAX_ANSWER_CHARS",
    "extract_answer",
    "score_correctness",
    "compute_score",
]

TAIL_CHARS = 4000
"""Only this many final characters of a response are searched for the answer."""
MAX_ANSWER_CHARS = 1000
"""Longer extracted answers are only compared as strings (never parsed): they are degenerate."""

_log = logging.getLogger(__name__)

_BOX = re.compile(r"\\(?:boxed|fbox) ?\{")
_ANSWER_LINE = re.compile(r"answer\s*:\s*([^\n]+)", re.IGNORECASE)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _last_boxed(text: str) -> str | None:
    last = None
    for match in _BOX.finditer(text):
        last = match
    if last is None:
        return None
    depth, i, n = 1, last.end(), len(text)
    start = i
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def _answer_line(text: str) -> str | None:
    found = _ANSWER_LINE.findall(text)
    return found[-1] if found else None


def _strip_answer(answer: str) -> str:
    """Remove what surrounds an answer: whitespace, ``$``, markdown ``**``, a whole ``\\boxed{..}``,
    a final period."""
    answer = answer.strip()
    for _ in range(3):
        before = answer
        answer = answer.strip().strip("$*").strip()
        if answer.startswith(("\\boxed", "\\fbox")):
            inner = _last_boxed(answer)
            if inner is not None and answer.rstrip().endswith("}"):
                answer = inner
        answer = answer.rstrip(". ").strip()
        if answer == before:
            break
    return answer


def extract_answer(response: str, data_source: str | None = None) -> str | None:
    """The final answer of a response (see module docstring), or None if there is none."""
    if not isinstance(response, str) or not response:
        return None
    tail = response[-TAIL_CHARS:]
    dapo_first = bool(data_source) and "dapo" in str(data_source).lower()
    order = (_answer_line, _last_boxed) if dapo_first else (_last_boxed, _answer_line)
    for extract in order:
        found = extract(tail)
        if found is not None:
            answer = _strip_answer(found)
            if answer:
                return answer
    return None


def _fast_key(answer: str) -> str:
    key = normalise_formula(answer.replace("{,}", ""))
    if _THOUSANDS.fullmatch(key):
        key = key.replace(",", "")
    return key


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
        text = _strip_answer(str(item))
        if text:
            out.append(text)
    return out


def score_correctness(
    response: str, ground_truth: Any, data_source: str | None = None, time_limit: float = 2.0
) -> float:
    """1.0 if the response's final answer equals the ground truth, else 0.0. Never raises.

    ground_truth: a string (numbers are converted with ``str``); a list or tuple means any of
    its items is accepted. time_limit: hard wall-clock seconds for the symbolic comparison of
    one ground-truth item.
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
    answer_key = _fast_key(answer)
    if answer_key and any(answer_key == _fast_key(truth) for truth in truths):
        return 1.0
    if len(answer) > MAX_ANSWER_CHARS:
        return 0.0
    from verl_dsdr.scoring import correctness as importable  # this file may be loaded by path
    from verl_dsdr.scoring.bounded import scoring_runner

    runner = scoring_runner()
    for truth in truths:
        # The worker unpickles the function by module name: use the package's copy, since verl
        # may have loaded this file under a generated module name (custom_reward_function.path).
        outcome = runner.call_outcome(importable._math_verify, (answer, truth), timeout=time_limit)
        if outcome.ok and outcome.value:
            return 1.0
        if not outcome.ok:
            _log.debug("math-verify %s: %s", outcome.status, outcome.detail)
    return 0.0


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict[str, Any]:
    """verl custom-reward-function entry point: ``{"score": 0.0 or 1.0, "acc": bool}``.

    Use with ``reward.custom_reward_function.path=pkg://verl_dsdr.scoring.correctness`` (or the
    file path) and ``name=compute_score``. ``reward_kwargs`` may set ``time_limit``; other keyword
    arguments verl passes (reward_router_address, ...) are ignored.
    """
    time_limit = float(kwargs.get("time_limit", 2.0))
    score = score_correctness(solution_str, ground_truth, data_source=data_source, time_limit=time_limit)
    return {"score": score, "acc": score == 1.0}
