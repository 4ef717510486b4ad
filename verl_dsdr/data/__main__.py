"""``python -m verl_dsdr.data <dataset> --input PATH --out DIR``: write verl parquet files.

DAPO-Math-17k becomes ``DIR/train.parquet``; each benchmark becomes ``DIR/<benchmark>.parquet``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from verl_dsdr.data.loading import DataError, load_rows
from verl_dsdr.data.prepare import PrepareReport, prepare_rows, resolve_columns
from verl_dsdr.data.schema import PROMPT_STYLES, write_parquet
from verl_dsdr.data.sources import DATASETS, boxed_data_source, get_spec

__all__ = ["build_parser", "main", "format_summary"]


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<14} {spec.description}" for name, spec in DATASETS.items())
    parser = argparse.ArgumentParser(
        prog="python -m verl_dsdr.data",
        description="Convert a math dataset to verl's parquet schema (prompt, data_source, ability, "
        "reward_model, extra_info).",
        epilog=f"datasets:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=sorted(DATASETS), help="which dataset (see the list below)")
    parser.add_argument(
        "--input",
        required=True,
        help="local .parquet/.json/.jsonl file, or a Hugging Face dataset id (needs network)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--prompt-style",
        choices=PROMPT_STYLES,
        default=None,
        help="instruction: 'dapo' (Answer: line; default for dapo_math_17k), 'boxed' (\\boxed{}; default for "
        "benchmarks) or 'raw' (the problem text as is, for problems that carry their own instruction)",
    )
    parser.add_argument("--data-source", default=None, help="override the data_source written to every row")
    parser.add_argument("--problem-column", default=None, help="column holding the problem (dots read struct fields)")
    parser.add_argument("--answer-column", default=None, help="column holding the reference answer")
    parser.add_argument("--id-column", default=None, help="column holding the original problem id")
    parser.add_argument("--skip-bad", action="store_true", help="drop bad rows (and report them) instead of failing")
    parser.add_argument("--max-errors", type=int, default=10, help="how many bad rows to list in an error")
    parser.add_argument("--hf-config", default=None, help="hub dataset config (with a hub id as --input)")
    parser.add_argument("--hf-split", default=None, help="hub dataset split (default: train for DAPO, test otherwise)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def format_summary(reports: Sequence[PrepareReport]) -> str:
    """A plain-text table: dataset, rows in, kept, duplicates dropped, bad rows, output path."""
    header = ("dataset", "rows in", "kept", "duplicates dropped", "bad rows", "output")
    body = [
        (r.dataset, str(r.rows_in), str(r.kept), str(r.duplicates_dropped), str(len(r.bad_rows)), str(r.output))
        for r in reports
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in (header, *body)]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> PrepareReport:
    """Load, validate, deduplicate and write one dataset; returns its report."""
    spec = get_spec(args.dataset)
    style = args.prompt_style or spec.default_style
    if args.data_source is not None:
        data_source = args.data_source
    elif style == "boxed":
        data_source = boxed_data_source(spec)
    else:
        data_source = spec.data_source
    hub_split = args.hf_split or ("train" if spec.split == "train" else "test")
    rows = load_rows(args.input, hub_config=args.hf_config, hub_split=hub_split)
    columns = resolve_columns(
        rows, spec, problem_column=args.problem_column, answer_column=args.answer_column, id_column=args.id_column
    )
    print(
        f"{spec.name}: {len(rows)} rows from {args.input}; problem={columns.problem!r} answer={columns.answer!r} "
        f"id={columns.id!r}; style={style}, data_source={data_source}",
        file=sys.stderr,
    )
    records, report = prepare_rows(
        rows,
        spec,
        columns=columns,
        style=style,
        data_source=data_source,
        skip_bad=args.skip_bad,
        max_errors=args.max_errors,
        progress=not args.no_progress,
    )
    for number, reason in report.bad_rows[: args.max_errors]:
        print(f"dropped bad row {number}: {reason}", file=sys.stderr)
    for number, first in report.conflicting_duplicates[: args.max_errors]:
        print(f"warning: row {number} repeats the problem of row {first} with another answer; kept row {first}",
              file=sys.stderr)
    report.output = write_parquet(records, args.out / f"{spec.output_stem}.parquet")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_summary([report]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
