"""Reference-answer normalisation for the ground truth stored in the parquet files.

Benchmarks ship answers as numbers, ``$...$`` strings, ``\\boxed{...}`` strings, whole worked
solutions, or lists (OlympiadBench's ``final_answer``). The verifier compares one plain answer
string, so every shape is reduced to that here, in one place.
"""

from __future__ import annotations

from typing import Any

__all__ = ["last_boxed", "normalize_answer"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) with balanced braces, else ``None``.

    A linear scan with a brace counter: regular expressions cannot match nested braces.
    """
    start = max(text.rfind(cmd + "{") for cmd in _BOX_COMMANDS)
    if start < 0:
        return None
    open_at = text.index("{", start)
    depth = 0
    for pos in range(open_at, len(text)):
        char = text[pos]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : pos]
    return None


def _strip_dollars(text: str) -> str:
    """Remove matched surrounding ``$``/``$$`` delimiters (an escaped ``\\$`` at the end is kept)."""
    while len(text) >= 2 and text.startswith("$") and text.endswith("$") and not text.endswith("\\$"):
        text = text[1:-1].strip()
    return text


def _scalar_to_text(value: Any) -> str:
    """Numbers as their shortest exact text (``5.0`` -> ``"5"``); everything else via ``str``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalize_answer(value: Any) -> str:
    """Plain answer text: lists of one element unwrapped, several joined by ``", "``, ``$``
    delimiters and whitespace stripped, the last ``\\boxed{}`` unwrapped. ``None`` gives ``""``.

    Joining multi-answer lists with a comma is a choice (OlympiadBench's multi-answer problems):
    the verifier then compares a tuple-like answer.
    """
    if value is None:
        return ""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        parts = [normalize_answer(item) for item in value]
        return ", ".join(part for part in parts if part)
    text = _scalar_to_text(value).strip()
    text = _strip_dollars(text)
    boxed = last_boxed(text)
    if boxed is not None:
        text = _strip_dollars(boxed.strip())
    return text.strip()
