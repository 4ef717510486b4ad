"""Read sampled responses (JSON lines) for evaluation, checking every row.

One row per response: ``{"method", "benchmark", "problem_id", "ground_truth", "response"}``;
``method`` defaults to the file's stem. Errors name the file and the 1-based line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = ["Sample", "SampleError", "read_samples", "REQUIRED_KEYS"]

REQUIRED_KEYS = ("benchmark", "problem_id", "ground_truth", "response")


class SampleError(ValueError):
    """A samples file row that cannot be evaluated; the message gives file:line and the fix."""


@dataclass(frozen=True)
class Sample:
    """One sampled response and where it came from (for error messages)."""

    method: str
    benchmark: str
    problem_id: str
    ground_truth: str
    response: str
    source: str
    """``file:line`` of the row."""


def _text(value: object, key: str, where: str, *, numbers_ok: bool) -> str:
    if isinstance(value, str):
        return value
    if numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    kind = "a string or a number" if numbers_ok else "a string"
    raise SampleError(f"{where}: {key!r} must be {kind}, got {type(value).__name__} ({value!r:.60})")


def _parse_row(row: object, method_default: str, where: str) -> Sample:
    if not isinstance(row, dict):
        raise SampleError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in row]
    if missing:
        raise SampleError(f"{where}: missing key(s) {missing}; every row needs {list(REQUIRED_KEYS)} (+ optional 'method')")
    method = _text(row.get("method", method_default), "method", where, numbers_ok=False)
    benchmark = _text(row["benchmark"], "benchmark", where, numbers_ok=False)
    if not method or not benchmark:
        raise SampleError(f"{where}: empty 'method' or 'benchmark'")
    return Sample(
        method=method,
        benchmark=benchmark,
        problem_id=_text(row["problem_id"], "problem_id", where, numbers_ok=True),
        ground_truth=_text(row["ground_truth"], "ground_truth", where, numbers_ok=True),
        response=_text(row["response"], "response", where, numbers_ok=False),
        source=where,
    )


def _read_file(path: Path) -> list[Sample]:
    if not path.is_file():
        raise SampleError(f"samples file {path} does not exist")
    samples = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SampleError(f"{where}: not valid JSON ({err.msg})") from err
            samples.append(_parse_row(row, path.stem, where))
    if not samples:
        raise SampleError(f"samples file {path} has no rows")
    return samples


def _check_ground_truths(samples: Iterable[Sample]) -> None:
    """All rows of one problem must agree on the reference answer."""
    first: dict[tuple[str, str, str], Sample] = {}
    for sample in samples:
        key = (sample.method, sample.benchmark, sample.problem_id)
        seen = first.setdefault(key, sample)
        if seen.ground_truth != sample.ground_truth:
            raise SampleError(
                f"{sample.source}: ground_truth {sample.ground_truth!r} differs from {seen.ground_truth!r} at "
                f"{seen.source} for the same (method, benchmark, problem_id) = {key}"
            )


def read_samples(paths: Iterable[str | Path]) -> list[Sample]:
    """Every row of every file, in order, validated."""
    samples: list[Sample] = []
    for path in paths:
        samples.extend(_read_file(Path(path)))
    _check_ground_truths(samples)
    return samples
