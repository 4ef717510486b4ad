"""verl's validation dump -> the evaluation CLI's samples rows.

With ``trainer.validation_data_dir=DIR`` verl writes every validation generation to
``DIR/<global_step>.jsonl``, one object per response with (among others) ``input`` (the decoded
prompt, special tokens dropped), ``output`` (the decoded response) and ``gts`` (the ground truth).
``python -m verl_dsdr.eval`` reads ``{"method", "benchmark", "problem_id", "ground_truth",
"response"}``. The problem id is the task's question sentence (``Compute 3 + 4 * 2.``), found in
the prompt: it is the same for every method and seed, and ``verl_dsdr.assets.task.parse_question``
turns it back into the problem (for the solution-form counts).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from verl_dsdr.utils.jsonl import JsonlError, iter_jsonl

__all__ = [
    "DumpError",
    "latest_dump",
    "dump_of_step",
    "question_of",
    "dump_rows_to_samples",
    "read_jsonl",
    "write_jsonl",
    "convert_dump",
]

_QUESTION = re.compile(r"Compute [0-9+\-* ]+\.")
_REQUIRED = ("input", "output", "gts")


class DumpError(ValueError):
    """A validation dump that cannot be converted; the message names the file and line."""


def latest_dump(dump_dir: str | Path) -> Path:
    """The dump of the highest step in ``dump_dir`` (verl names them ``<step>.jsonl``)."""
    dump_dir = Path(dump_dir)
    steps = sorted((int(p.stem), p) for p in dump_dir.glob("*.jsonl") if p.stem.isdigit()) if dump_dir.is_dir() else []
    if not steps:
        raise DumpError(
            f"no validation dump (<step>.jsonl) in {dump_dir}: the run must set trainer.validation_data_dir "
            "and trainer.test_freq so that verl validates after the last step"
        )
    return steps[-1][1]


def dump_of_step(dump_dir: str | Path, step: int) -> Path | None:
    """The dump verl wrote at ``step`` (0 = before training, with ``trainer.val_before_train``), or None."""
    path = Path(dump_dir) / f"{step}.jsonl"
    return path if path.is_file() else None


def question_of(prompt: str) -> str:
    """The task's question sentence inside a decoded prompt."""
    found = _QUESTION.search(prompt)
    if found is None:
        raise ValueError(f"no 'Compute <expression>.' question in the prompt {prompt[:120]!r}")
    return found.group(0)


def read_jsonl(path: str | Path) -> list[dict]:
    """Every object of a JSON-lines file; a bad line raises :class:`DumpError` naming ``file:line``."""
    try:
        return [row for _, row in iter_jsonl(path)]
    except JsonlError as err:
        raise DumpError(str(err)) from None


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    """Write rows as JSON lines through a temporary file renamed into place (never half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def dump_rows_to_samples(rows: list[dict], method: str, benchmark: str, source: str = "dump") -> list[dict]:
    """Map verl's dump rows to eval rows (in order); ``source`` names the file in error messages."""
    if not method or not benchmark:
        raise ValueError("method and benchmark must be non-empty strings")
    samples = []
    for number, row in enumerate(rows, start=1):
        missing = [key for key in _REQUIRED if key not in row]
        if missing:
            raise DumpError(
                f"{source} row {number}: missing {missing}; expected verl's validation dump fields {list(_REQUIRED)}"
            )
        try:
            question = question_of(str(row["input"]))
        except ValueError as err:
            raise DumpError(f"{source} row {number}: {err}") from None
        samples.append(
            {
                "method": method,
                "benchmark": benchmark,
                "problem_id": question,
                "ground_truth": str(row["gts"]),
                "response": str(row["output"]),
            }
        )
    return samples


def convert_dump(dump: str | Path, out_path: str | Path, method: str, benchmark: str) -> tuple[Path, int]:
    """Convert one dump file (e.g. ``latest_dump(dir)``) to ``out_path``; returns (path, number of rows)."""
    rows = read_jsonl(dump)
    if not rows:
        raise DumpError(f"{dump} is empty: validation produced no generations")
    samples = dump_rows_to_samples(rows, method, benchmark, source=str(dump))
    return write_jsonl(samples, out_path), len(samples)
