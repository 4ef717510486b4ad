"""Final-answer extraction and normalisation for the verifier (no sympy, no math-verify).

A response's final answers are searched in its last ``TAIL_CHARS`` characters, in one of two forms:
- boxed: every outermost ``\\boxed{..}``/``\\fbox{..}`` (see ``boxed.py``); a truncated (unclosed)
  box means there is no boxed answer;
- DAPO: the rest of every line after ``Answer:`` (case-insensitive), the convention of DAPO-Math
  prompts and of verl's ``math_dapo`` scorer.
Data sources whose name contains "dapo" use the DAPO form and fall back to boxes; every other
data source uses boxes and falls back to the DAPO form. All answers of the chosen form count:
several different ones are several candidate values (the hedge rule in ``hedge.py`` decides), as
math-verify reads several boxes as a set; ``extract_answer`` joins them with ``", "``.
"""

from __future__ import annotations

import re

from verl_dsdr.scoring.boxed import all_boxed, outside_boxes
from verl_dsdr.scoring.formulas import normalise_formula

__all__ = [
    "TAIL_CHARS",
    "answer_candidates",
    "extract_answer",
    "strip_answer",
    "boxed_answer",
    "fast_key",
]

TAIL_CHARS = 4000
"""Only this many final characters of a response are searched for the answer."""

_ANSWER_LINE = re.compile(r"answer\s*:\s*([^\n]+)", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
_PERCENT = re.compile(r"\\?%|\s*\b(?:percent(?:age)?|pct)\b", re.IGNORECASE)
_SPACING_ESCAPE = re.compile(r"\\[!,;:> ]\s*")
# "The final answer is $X$. I hope it is correct." (Minerva's few-shot format, common in Qwen-Math output)
_FINAL_ANSWER_IS = re.compile(
    r"^(?:the\s+)?(?:final\s+)?answer\s+is\s*:?\s*(?P<answer>.+?)\s*\.?\s*(?:I\s+hope\s+it\s+is\s+correct\b.*)?$",
    re.IGNORECASE | re.DOTALL,
)
_OUTSIDE_IS_PROSE = re.compile(r"[\d=<>]|\\(?:leq?|geq?|neq?|approx)(?![A-Za-z])")


def boxed_answer(text: str) -> str | None:
    """The distinct contents of every box in ``text`` joined with ``", "``; None without boxes.

    Several boxes are several values, as math-verify reads them (``\\boxed{1}\\boxed{2}`` is {1, 2}).
    """
    parts: list[str] = []
    for content in all_boxed(text):
        content = content.strip()
        if content and content not in parts:
            parts.append(content)
    return ", ".join(parts) if parts else None


def _unbox(text: str) -> str:
    """``text`` replaced by its boxes when nothing else in it is math (``The answer is \\boxed{5}.``)."""
    boxed = boxed_answer(text)
    if boxed is None:
        return text
    return text if _OUTSIDE_IS_PROSE.search(outside_boxes(text)) else boxed


def strip_answer(answer: str) -> str:
    """Remove what surrounds an answer and what math-verify ignores.

    Whitespace, ``$``, markdown ``**``, boxes around the answer, a final period, the wrapper "The
    final answer is X. I hope it is correct."; ``{,}`` becomes ``,``; percent signs and the words
    percent/percentage/pct are dropped (math-verify reads ``28\\%`` as 28, not 0.28).
    """
    answer = _PERCENT.sub("", answer.replace("{,}", ",")).strip()
    for _ in range(3):
        before = answer
        wrapped = _FINAL_ANSWER_IS.match(answer.strip().strip("*").strip())
        if wrapped:
            answer = wrapped.group("answer")
        answer = _unbox(answer.strip().strip("$*").strip())
        answer = answer.rstrip(". ").strip()
        if answer == before:
            break
    return answer


def fast_key(answer: str) -> str:
    """String key for the exact-match fast path: the formula normaliser, thousands separators dropped."""
    plain = _THOUSANDS.sub(lambda m: m.group().replace(",", ""), _SPACING_ESCAPE.sub("", answer))
    return normalise_formula(plain)


def _answer_lines(text: str) -> list[str]:
    return _ANSWER_LINE.findall(text)


def answer_candidates(response: str, data_source: str | None = None) -> list[str]:
    """Every distinct final answer of the response's chosen form, stripped, in reading order."""
    if not isinstance(response, str) or not response:
        return []
    tail = response[-TAIL_CHARS:]
    dapo_first = bool(data_source) and "dapo" in str(data_source).lower()
    forms = (_answer_lines, all_boxed) if dapo_first else (all_boxed, _answer_lines)
    for form in forms:
        found: dict[str, str] = {}
        for raw in form(tail):
            answer = strip_answer(raw)
            if answer:
                found.setdefault(fast_key(answer) or answer, answer)
        if found:
            return list(found.values())
    return []


def extract_answer(response: str, data_source: str | None = None) -> str | None:
    """The answer the response gives (what is scored): its one candidate, or several joined with
    ``", "`` (several values); None when there is none."""
    candidates = answer_candidates(response, data_source)
    return ", ".join(candidates) if candidates else None
