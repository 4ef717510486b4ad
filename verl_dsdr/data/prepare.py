"""Turn raw dataset rows into verl rows: find the columns, validate, deduplicate, build records.

Validation collects every bad row first (unreadable line, empty problem, empty or invalid answer,
invalid Unicode, duplicate id, ...) and then either fails or, with ``skip_bad``, drops them; either
way every one is named: the first ``max_errors`` in the message, all of them in the rejected-rows
file (``<output>.rejected.jsonl``) when there are more. Row numbers are 0-based positions in the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_dsdr.data.answers import AnswerError, invalid_text, last_boxed, normalize_answer
from verl_dsdr.data.loading import BadRow, DataError
from verl_dsdr.data.schema import PromptStyle, build_record, extract_dapo_problem
from verl_dsdr.data.sources import DatasetSpec

__all__ = ["ColumnChoice", "PrepareReport", "resolve_columns", "prepare_rows", "problem_key", "rejected_path"]

_MISSING = object()


@dataclass(frozen=True)
class ColumnChoice:
    """The input columns used for problem, answer and (optionally) id."""

    problem: str
    answer: str
    id: str | None


@dataclass
class PrepareReport:
    """Counts for the summary table: ``rows_in == kept + duplicates_dropped + len(bad_rows)`` when skipping."""

    dataset: str
    rows_in: int
    kept: int = 0
    duplicates_dropped: int = 0
    conflicting_duplicates: list[tuple[int, int]] = field(default_factory=list)
    """(row, first row) pairs of duplicate problems whose answers differ; the first answer is kept."""
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    columns: ColumnChoice | None = None
    output: Path | None = None
    rejected_file: Path | None = None
    """Where every bad row is listed, when there were more than ``max_errors``."""


def rejected_path(output: Path) -> Path:
    """``DIR/name.parquet`` -> ``DIR/name.rejected.jsonl``: the list of every bad row."""
    return output.with_name(output.name.removesuffix(".parquet") + ".rejected.jsonl")


def _field(row: dict, path: str) -> Any:
    """``row[path]``, following dots into struct columns; ``_MISSING`` when any step is absent."""
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _available_columns(rows: Iterable[dict | BadRow]) -> dict[str, str]:
    """Lower-cased name -> real name of every top-level column and every ``struct.field``."""
    names: dict[str, str] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        for key, value in row.items():
            names.setdefault(key.lower(), key)
            if isinstance(value, dict):
                for sub in value:
                    dotted = f"{key}.{sub}"
                    names.setdefault(dotted.lower(), dotted)
    return names


def _pick(names: dict[str, str], explicit: str | None, candidates: tuple[str, ...], option: str) -> str | None:
    """The real column name: the explicit one (which must exist) or the first candidate present."""
    if explicit is not None:
        if explicit.lower() not in names:
            raise DataError(f"{option} {explicit!r}: no such column. Columns found: {sorted(names.values())}")
        return names[explicit.lower()]
    for candidate in candidates:
        if candidate.lower() in names:
            return names[candidate.lower()]
    return None


def resolve_columns(
    rows: Sequence[dict | BadRow],
    spec: DatasetSpec,
    *,
    problem_column: str | None = None,
    answer_column: str | None = None,
    id_column: str | None = None,
) -> ColumnChoice:
    """The columns to read, from explicit options or the dataset's candidates; clear error if absent."""
    names = _available_columns(rows)
    problem = _pick(names, problem_column, spec.problem_columns, "--problem-column")
    answer = _pick(names, answer_column, spec.answer_columns, "--answer-column")
    if problem is None:
        raise _no_column(spec, "problem", spec.problem_columns, "--problem-column", names)
    if answer is None:
        raise _no_column(spec, "answer", spec.answer_columns, "--answer-column", names)
    id_name = _pick(names, id_column, spec.id_columns, "--id-column")
    return ColumnChoice(problem=problem, answer=answer, id=id_name)


def _no_column(
    spec: DatasetSpec, role: str, candidates: tuple[str, ...], option: str, names: dict[str, str]
) -> DataError:
    """The error for a dataset without a ``role`` column among ``candidates``."""
    return DataError(
        f"{spec.name}: no {role} column (looked for {list(candidates)}). Columns found: "
        f"{sorted(names.values())}. Name the right one with {option} NAME."
    )


def _problem_text(value: Any) -> str | None:
    """The problem as text: a string, or the last user message of a chat list; DAPO wrapper removed."""
    if isinstance(value, list):
        users = [m for m in value if isinstance(m, dict) and m.get("role") == "user"]
        if not users or not isinstance(users[-1].get("content"), str):
            return None
        value = users[-1]["content"]
    if not isinstance(value, str):
        return None
    return extract_dapo_problem(value)


def problem_key(problem: str) -> str:
    """Deduplication key: the problem with all whitespace runs collapsed to one space."""
    return " ".join(problem.split())


def _id_text(value: Any) -> str:
    """An id as text: ``1``, ``1.0`` and ``" 1"`` are all ``"1"``; missing (None, NaN) is ``""``."""
    if value is _MISSING or value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_row(row: Any, columns: ColumnChoice, spec: DatasetSpec) -> tuple[str, str, str] | str:
    """``(problem, answer, id)`` of one row, or the reason it is bad."""
    if isinstance(row, BadRow):
        return row.reason
    if not isinstance(row, dict):
        return f"a {type(row).__name__}, not an object mapping column -> value"
    raw_problem = _field(row, columns.problem)
    if raw_problem is _MISSING:
        return f"missing column {columns.problem!r}"
    problem = _problem_text(raw_problem)
    if problem is None:
        return f"problem column {columns.problem!r} holds {type(raw_problem).__name__}, not text or a chat list"
    if not problem:
        return "empty problem"
    bad_text = invalid_text(problem)
    if bad_text:
        return f"the problem holds {bad_text}"
    raw_answer = _field(row, columns.answer)
    if raw_answer is _MISSING:
        return f"missing column {columns.answer!r}"
    worked = columns.answer.lower() in spec.worked_solution_columns and isinstance(raw_answer, str)
    if worked and last_boxed(raw_answer) is None:
        return f"worked solution in {columns.answer!r} has no \\boxed{{}} answer (pass --answer-column)"
    try:
        answer = normalize_answer(raw_answer)
    except AnswerError as err:
        return f"answer column {columns.answer!r}: {err}"
    if not answer:
        return "empty answer"
    original_id = _id_text(_field(row, columns.id)) if columns.id is not None else ""
    bad_text = invalid_text(original_id)
    if bad_text:
        return f"the id holds {bad_text}"
    return problem, answer, original_id


def prepare_rows(
    rows: Sequence[dict | BadRow],
    spec: DatasetSpec,
    *,
    columns: ColumnChoice,
    style: PromptStyle,
    data_source: str,
    skip_bad: bool = False,
    max_errors: int = 10,
    progress: bool = False,
    rejected_file: Path | None = None,
) -> tuple[list[dict], PrepareReport]:
    """verl records for ``rows`` and the report; raises :class:`DataError` on bad rows unless ``skip_bad``.

    Duplicate problems (same text up to whitespace) are dropped, keeping the first; bad rows are
    found before deduplication, duplicate ids after it (two different problems with one id).
    When there are more bad rows than ``max_errors``, all are written to ``rejected_file``.
    """
    from tqdm.auto import tqdm

    report = PrepareReport(dataset=spec.name, rows_in=len(rows), columns=columns)
    if not rows:
        raise DataError(f"{spec.name}: the input has no rows")
    parsed: list[tuple[int, str, str, str]] = []
    for number, row in enumerate(tqdm(rows, desc=f"{spec.name}: reading", disable=not progress, unit="row")):
        result = _read_row(row, columns, spec)
        if isinstance(result, str):
            report.bad_rows.append((number, result))
        else:
            parsed.append((number, *result))

    first_by_problem: dict[str, tuple[int, str]] = {}
    unique: list[tuple[int, str, str, str]] = []
    for number, problem, answer, original_id in parsed:
        key = problem_key(problem)
        if key in first_by_problem:
            report.duplicates_dropped += 1
            first_row, first_answer = first_by_problem[key]
            if first_answer != answer:
                report.conflicting_duplicates.append((number, first_row))
            continue
        first_by_problem[key] = (number, answer)
        unique.append((number, problem, answer, original_id))

    first_by_id: dict[str, int] = {}
    kept: list[tuple[int, str, str, str]] = []
    for entry in unique:
        number, _, _, original_id = entry
        if original_id and original_id in first_by_id:
            report.bad_rows.append((number, f"duplicate id {original_id!r} (first at row {first_by_id[original_id]})"))
            continue
        if original_id:
            first_by_id[original_id] = number
        kept.append(entry)
    report.bad_rows.sort()
    if len(report.bad_rows) > max_errors and rejected_file is not None:
        report.rejected_file = _write_rejected(rows, report.bad_rows, rejected_file)

    if report.bad_rows and not skip_bad:
        shown = "\n".join(f"  row {n}: {reason}" for n, reason in report.bad_rows[:max_errors])
        more = len(report.bad_rows) - max_errors
        listed = f" (all listed in {report.rejected_file})" if report.rejected_file else ""
        raise DataError(
            f"{spec.name}: {len(report.bad_rows)} bad row(s) (0-based row numbers):\n{shown}"
            + (f"\n  ... and {more} more{listed}" if more > 0 else "")
            + "\nFix the input, name other columns (--problem-column/--answer-column/--id-column), "
            "or pass --skip-bad to drop these rows."
        )

    records = [
        build_record(
            problem=problem,
            answer=answer,
            data_source=data_source,
            style=style,
            index=index,
            split=spec.split,
            original_id=original_id,
        )
        for index, (_, problem, answer, original_id) in enumerate(kept)
    ]
    report.kept = len(records)
    return records, report


def _write_rejected(rows: Sequence[dict | BadRow], bad_rows: list[tuple[int, str]], path: Path) -> Path:
    """One JSON line per bad row: ``{"row", "reason", "input"}`` (the input row as read, or null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for number, reason in bad_rows:
            row = rows[number]
            data = None if isinstance(row, BadRow) else row
            handle.write(json.dumps({"row": number, "reason": reason, "input": data}, default=str) + "\n")
    return path
