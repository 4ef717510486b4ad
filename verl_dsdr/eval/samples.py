"""Read sampled responses (JSON lines) for evaluation, checking every row.

One row per response: ``{"method", "benchmark", "problem_id", "ground_truth", "response"}``;
``method`` defaults to the file's stem. Optional: ``sample_index`` (which of the problem's samples
the row is; default: the count of the problem's earlier rows, in the order the files are given)
and ``prompt_hash`` (both kept in ``--log_samples``), ``sampling`` (see provenance). Every bad row
is found before anything is scored; the error names each one by file and 1-based line (the first
``SHOWN_ERRORS``, and all of them in a file when there are more). Problem ids are normalised:
``1``, ``1.0`` and ``" 1"`` are problem ``"1"``. A ground truth must be non-empty text or a finite
number; text must be valid UTF-8.

Nothing is counted twice: a file given twice (same SHA-256) and a repeated
``(method, benchmark, problem_id, sample_index)`` are refused, naming both places.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from verl_dsdr.data.answers import invalid_text
from verl_dsdr.utils.jsonl import JsonlError, iter_jsonl

__all__ = ["Sample", "SampleError", "read_samples", "normalise_problem_id", "REQUIRED_KEYS", "SHOWN_ERRORS"]

REQUIRED_KEYS = ("benchmark", "problem_id", "ground_truth", "response")
SHOWN_ERRORS = 20
"""At most this many bad rows are listed in the error message."""


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
    sample_index: int = -1
    """Which of the problem's samples this is (the row's own, else its position among the problem's rows)."""
    prompt_hash: str | None = None
    """SHA-256 of the prompt the response was drawn from, as ``python -m verl_dsdr.generate`` records it."""


def _text(value: object, key: str, where: str, *, numbers_ok: bool) -> str:
    if isinstance(value, str):
        bad = invalid_text(value)
        if bad:
            raise SampleError(f"{where}: {key!r} holds {bad}")
        return value
    if numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise SampleError(f"{where}: {key!r} is {value} (JSON NaN/Infinity), not a value; write the real one")
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    kind = "a string or a number" if numbers_ok else "a string"
    raise SampleError(f"{where}: {key!r} must be {kind}, got {type(value).__name__} ({value!r:.60})")


def normalise_problem_id(value: object, where: str = "problem_id") -> str:
    """``1``, ``1.0`` and ``" 1"`` are all problem ``"1"``: numbers by value, text stripped."""
    text = _text(value, "problem_id", where, numbers_ok=True).strip()
    if not text:
        raise SampleError(f"{where}: empty 'problem_id'")
    return text


def _ground_truth(value: object, where: str) -> str:
    text = _text(value, "ground_truth", where, numbers_ok=True)
    if not text.strip():
        raise SampleError(f"{where}: empty 'ground_truth'; every row needs the reference answer")
    if text.strip().lower() in ("nan", "$nan$"):
        raise SampleError(f"{where}: 'ground_truth' is {text!r} (a missing value written out); write the real answer")
    return text


def _parse_row(row: dict, method_default: str, where: str) -> Sample:
    missing = [key for key in REQUIRED_KEYS if key not in row]
    if missing:
        raise SampleError(
            f"{where}: missing key(s) {missing}; every row needs {list(REQUIRED_KEYS)} (+ optional 'method')"
        )
    method = _text(row.get("method", method_default), "method", where, numbers_ok=False)
    benchmark = _text(row["benchmark"], "benchmark", where, numbers_ok=False)
    if not method or not benchmark:
        raise SampleError(f"{where}: empty 'method' or 'benchmark'")
    index = row.get("sample_index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
        raise SampleError(f"{where}: 'sample_index' must be an integer >= 0, got {index!r:.60}")
    prompt_hash = row.get("prompt_hash")
    if prompt_hash is not None and not isinstance(prompt_hash, str):
        raise SampleError(f"{where}: 'prompt_hash' must be a string, got {type(prompt_hash).__name__}")
    return Sample(
        method=method,
        benchmark=benchmark,
        problem_id=normalise_problem_id(row["problem_id"], where),
        ground_truth=_ground_truth(row["ground_truth"], where),
        response=_text(row["response"], "response", where, numbers_ok=False),
        source=where,
        sample_index=-1 if index is None else index,
        prompt_hash=prompt_hash,
    )


def _read_file(path: Path, errors: list[str]) -> list[Sample]:
    """The file's samples; each bad row's message is appended to ``errors``."""
    if not path.is_file():
        errors.append(f"samples file {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
        return []
    try:
        data = path.read_bytes()
    except OSError as err:
        errors.append(f"cannot read samples file {path}: {err}")
        return []
    samples = []
    for line_no, row in iter_jsonl(path, data, undecodable="escape", bad_lines="yield"):
        if isinstance(row, JsonlError):
            errors.append(str(row))
            continue
        try:
            samples.append(_parse_row(row, path.stem, f"{path}:{line_no}"))
        except SampleError as err:
            errors.append(str(err))
    if not samples and not errors:
        errors.append(f"samples file {path} is empty: it has no rows")
    return samples


def _check_ground_truths(samples: Iterable[Sample], errors: list[str]) -> None:
    """All rows of one problem must agree on the reference answer."""
    first: dict[tuple[str, str, str], Sample] = {}
    for sample in samples:
        key = (sample.method, sample.benchmark, sample.problem_id)
        seen = first.setdefault(key, sample)
        if seen.ground_truth != sample.ground_truth:
            errors.append(
                f"{sample.source}: ground_truth {sample.ground_truth!r} differs from {seen.ground_truth!r} at "
                f"{seen.source} for the same (method, benchmark, problem_id) = {key}"
            )


def _check_files_once(paths: list[Path]) -> None:
    """Refuse a file given twice (or two copies of one file): each of its rows would count twice."""
    first: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            continue  # reported with the rows
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in first:
            what = "is given twice" if first[digest].resolve() == path.resolve() else f"is a copy of {first[digest]}"
            raise SampleError(
                f"samples file {path} {what} (same sha256 {digest[:16]}): its rows would be counted twice; "
                "give each file once"
            )
        first[digest] = path


def _number_samples(samples: list[Sample], errors: list[str]) -> list[Sample]:
    """Rows without a ``sample_index`` get their problem's count of earlier rows; a repeated index is refused."""
    count: dict[tuple[str, str, str], int] = {}
    seen: dict[tuple[str, str, str, int], str] = {}
    numbered = []
    for sample in samples:
        key = (sample.method, sample.benchmark, sample.problem_id)
        if sample.sample_index < 0:
            sample = replace(sample, sample_index=count.get(key, 0))
        count[key] = count.get(key, 0) + 1
        full = (*key, sample.sample_index)
        if full in seen:
            errors.append(
                f"{sample.source}: repeats {seen[full]}: sample_index {sample.sample_index} of (method, benchmark, "
                f"problem_id) = {key} twice, so a sample would be counted twice; remove the repeated rows"
            )
        else:
            seen[full] = sample.source
        numbered.append(sample)
    return numbered


def read_samples(paths: Iterable[str | Path], rejected_file: Path | None = None) -> list[Sample]:
    """Every row of every file, in order, validated and numbered; SampleError naming every bad row.

    rejected_file: where all bad rows are listed (one message per line) when there are more than
    ``SHOWN_ERRORS``.
    """
    files = [Path(path) for path in paths]
    _check_files_once(files)
    samples: list[Sample] = []
    errors: list[str] = []
    for path in files:
        samples.extend(_read_file(path, errors))
    _check_ground_truths(samples, errors)
    samples = _number_samples(samples, errors)
    if not errors:
        return samples
    message = "\n".join(errors[:SHOWN_ERRORS])
    if len(errors) > SHOWN_ERRORS:
        message += f"\n... and {len(errors) - SHOWN_ERRORS} more"
        if rejected_file is not None:
            rejected_file.parent.mkdir(parents=True, exist_ok=True)
            rejected_file.write_text("\n".join(errors) + "\n", encoding="utf-8")
            message += f" (all {len(errors)} listed in {rejected_file})"
    if len(errors) > 1:
        message = f"{len(errors)} bad sample rows:\n" + message
    raise SampleError(message + "\nFix these rows; nothing was scored.")
