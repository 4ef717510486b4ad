"""One reader for JSON-lines files, so that every tool reports a bad line the same way.

Rows are separated by ``\\n`` only (a ``\\r`` before it is JSON whitespace): splitting on every
Unicode line break, as ``str.splitlines`` does, would cut a row at a raw U+2028 inside a string.
A UTF-8 byte-order mark before the first row is ignored. Callers keep their own checks of what a
row must hold; this module only guarantees each row is a JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, overload

__all__ = ["JsonlError", "iter_jsonl", "split_lines"]


class JsonlError(ValueError):
    """A line that is not a JSON object: ``where`` (``file:line``), ``problem`` and ``fix`` are kept apart
    so that a caller can put its own fix after the problem. ``torn``: the last line, without its line
    end, does not parse, so a writer stopped mid-row (a resume can drop it; it is no corruption)."""

    def __init__(self, path: str | Path, line: int, problem: str, *, torn: bool = False) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.torn = torn
        self.fix = (
            "the last line has no line end, so the file was probably cut mid-write; remove that line"
            if torn
            else "fix or remove that line"
        )
        super().__init__(f"{self.where}: {problem}; {self.fix}")

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def split_lines(data: bytes) -> list[bytes]:
    """The lines of ``data``, each with its ``\\n`` (the last one may lack it), as :func:`iter_jsonl` numbers them;
    a leading UTF-8 byte-order mark is dropped."""
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    tail = [lines[-1]] if lines[-1] else []
    return [line + b"\n" for line in lines[:-1]] + tail


def _json_kind(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "a number"


def _row(raw: bytes, escape: bool) -> tuple[dict | None, str, bool]:
    """The line's object, or None, what is wrong ("" for a blank line) and whether a cut could explain it."""
    body = raw.removesuffix(b"\n")  # so that an error's column is on this line
    try:
        text = body.decode("utf-8", errors="surrogateescape" if escape else "strict")
    except UnicodeDecodeError as err:
        cut = err.end == len(body)  # a cut can split the last multi-byte character
        return None, f"not UTF-8 (byte 0x{body[err.start]:02x} at byte {err.start + 1} of the line)", cut
    if not text.strip():
        return None, "", False
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON ({err.msg} at column {err.colno})", True
    if not isinstance(value, dict):  # a whole value: no prefix of an object parses
        return None, f"expected a JSON object, got {_json_kind(value)}", False
    return value, "", False


@overload
def iter_jsonl(
    path: str | Path,
    data: bytes | None = ...,
    *,
    undecodable: Literal["refuse", "escape"] = ...,
    bad_lines: Literal["raise"] = ...,
) -> Iterator[tuple[int, dict]]: ...


@overload
def iter_jsonl(
    path: str | Path,
    data: bytes | None = ...,
    *,
    undecodable: Literal["refuse", "escape"] = ...,
    bad_lines: Literal["yield"],
) -> Iterator[tuple[int, dict | JsonlError]]: ...


def iter_jsonl(
    path: str | Path,
    data: bytes | None = None,
    *,
    undecodable: Literal["refuse", "escape"] = "refuse",
    bad_lines: Literal["raise", "yield"] = "raise",
) -> Iterator[tuple[int, dict | JsonlError]]:
    """``(line number, object)`` for each non-blank line of ``path`` (or of ``data``, its bytes, when the
    caller already holds them, e.g. decompressed); line numbers count from 1 and include blank lines.

    A bad line raises :class:`JsonlError`, or with ``bad_lines="yield"`` is yielded as one in its
    place, for callers that report every bad row at once. ``undecodable="escape"`` keeps invalid
    UTF-8 as lone surrogates (``surrogateescape``) for callers whose row checks name the field that
    holds them; by default such a line is an error.
    """
    if data is None:
        data = Path(path).read_bytes()
    lines = split_lines(data)
    for number, raw in enumerate(lines, start=1):
        row, problem, cut = _row(raw, undecodable == "escape")
        if row is not None:
            yield number, row
        elif problem:
            torn = cut and number == len(lines) and not raw.endswith(b"\n")
            error = JsonlError(path, number, problem, torn=torn)
            if bad_lines == "raise":
                raise error
            yield number, error
