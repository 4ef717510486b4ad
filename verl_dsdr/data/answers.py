"""Reference-answer normalisation for the ground truth stored in the parquet files.

Benchmarks ship answers as numbers, ``$...$`` strings, ``\\boxed{...}`` strings, whole worked
solutions, or lists (OlympiadBench's ``final_answer``). The verifier compares one plain answer
string, so every shape is reduced to that here, in one place. Values that are no answer (NaN,
infinity, booleans, objects, lists with empty items, text that is not valid Unicode) raise
:class:`AnswerError` with the reason, so that the row is refused rather than scored against
``"nan"`` or ``"True"``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from verl_dsdr.scoring.answers import boxed_answer
from verl_dsdr.scoring.boxed import last_boxed

__all__ = ["AnswerError", "last_boxed", "normalize_answer", "invalid_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")


class AnswerError(ValueError):
    """A value that cannot be a reference answer; the message is the reason."""


def invalid_text(text: str) -> str | None:
    """Why ``text`` is not valid Unicode (an undecodable byte or a lone surrogate), else None."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (
        f"invalid UTF-8 or a lone surrogate (U+{ord(found.group()):04X} at character {found.start()}); "
        "fix the file's encoding"
    )


def _strip_dollars(text: str) -> str:
    """Remove matched surrounding ``$``/``$$`` delimiters (an escaped ``\\$`` at the end is kept)."""
    while len(text) >= 2 and text.startswith("$") and text.endswith("$") and not text.endswith("\\$"):
        text = text[1:-1].strip()
    return text


def _scalar_to_text(value: Any) -> str:
    """Finite numbers as their shortest exact text (``5.0`` -> ``"5"``), strings as they are."""
    if isinstance(value, str):
        if value.strip().lower() == "nan":
            raise AnswerError("the answer is the text 'nan' (a missing value written out)")
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise AnswerError(f"the answer is a boolean ({value}), not a number or text")
    if isinstance(value, (int, float, Decimal)) or type(value).__module__ == "numpy":
        number = float(value)
        if math.isnan(number):
            raise AnswerError("the answer is NaN (a missing value)")
        if math.isinf(number):
            raise AnswerError(f"the answer is {value} (infinite), not a number")
        if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):
            return str(int(value))
        return str(int(number)) if number.is_integer() else str(value)
    if isinstance(value, dict):
        keys = ", ".join(sorted(map(str, value))[:5])
        raise AnswerError(f"the answer is an object (keys: {keys}); name its field with --answer-column COLUMN.FIELD")
    raise AnswerError(f"the answer is a {type(value).__name__}, not text, a number or a list of them")


def normalize_answer(value: Any) -> str:
    """Plain answer text; ``None`` and ``[]`` give ``""`` (an empty answer). Raises AnswerError.

    Lists of one element are unwrapped and several joined by ``", "`` (OlympiadBench's
    multi-answer problems: the verifier then compares a tuple-like answer); every item must be
    non-empty. ``$`` delimiters and whitespace are stripped; when the text holds boxes, their
    contents are the answer (several boxes are several values, as math-verify reads them).
    """
    if value is None:
        return ""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        parts = []
        for i, item in enumerate(value):
            try:
                part = normalize_answer(item)
            except AnswerError as err:
                raise AnswerError(f"list item {i}: {err}") from None
            if not part:
                raise AnswerError(f"list item {i} is empty ({item!r}); remove it or fix the list")
            parts.append(part)
        return ", ".join(parts)
    text = _scalar_to_text(value)
    reason = invalid_text(text)
    if reason:
        raise AnswerError(f"the answer holds {reason}")
    text = _strip_dollars(text.strip())
    boxed = boxed_answer(text)
    if boxed is not None:
        text = _strip_dollars(boxed.strip())
    return text.strip()
