"""``\\boxed{..}`` contents: the one brace matcher used by the verifier, the data CLI and the toy task.

Openers are ``\\boxed{``, ``\\boxed {`` and ``\\fbox{``. Contents are brace-matched with LaTeX's
escapes skipped (``\\{``, ``\\}`` and ``\\\\`` are not braces), so ``\\boxed{\\{1, 2\\}}`` gives
``\\{1, 2\\}``. Pure ``re``, no heavy imports: the toy task and the data CLI use it too.
"""

from __future__ import annotations

import re

__all__ = ["last_boxed", "all_boxed", "outside_boxes"]

_BOX = re.compile(r"\\(?:boxed|fbox) ?\{")


def _close(text: str, start: int) -> int:
    """Index of the brace that closes the group opened just before ``start``, or -1 if none does."""
    depth, i, n = 1, start, len(text)
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
                return i
        i += 1
    return -1


def last_boxed(text: str) -> str | None:
    """Content of the last box opener in ``text``; None when there is none or it is unclosed.

    An unclosed last box (a truncated response) is no answer: earlier boxes are not used instead.
    """
    last = None
    for match in _BOX.finditer(text):
        last = match
    if last is None:
        return None
    end = _close(text, last.end())
    return text[last.end() : end] if end >= 0 else None


def _spans(text: str) -> list[tuple[int, int, int]] | None:
    """``(opener start, content start, content end)`` of every outermost box; None if one is unclosed.

    A box inside another box is part of the outer one's content. Linear: the scan resumes after
    each closed box, and an unclosed box ends it (everything after it is inside it).
    """
    spans: list[tuple[int, int, int]] = []
    pos = 0
    while True:
        match = _BOX.search(text, pos)
        if match is None:
            return spans
        end = _close(text, match.end())
        if end < 0:
            return None
        spans.append((match.start(), match.end(), end))
        pos = end + 1


def all_boxed(text: str) -> list[str]:
    """Contents of every outermost box, in reading order; ``[]`` when a box is unclosed (truncated)."""
    return [text[start:end] for _, start, end in _spans(text) or ()]


def outside_boxes(text: str) -> str:
    """``text`` without its boxes (opener, content and closing brace); unchanged if a box is unclosed."""
    spans = _spans(text)
    if not spans:
        return text
    pieces, pos = [], 0
    for opener, _, end in spans:
        pieces.append(text[pos:opener])
        pos = end + 1
    pieces.append(text[pos:])
    return "".join(pieces)
