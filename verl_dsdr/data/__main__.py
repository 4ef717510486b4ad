"""``python -m verl_dsdr.data <dataset> --input PATH --out DIR``: write verl parquet files.

DAPO-Math-17k becomes ``DIR/train.parquet``; each benchmark becomes ``DIR/<benchmark>.parquet``;
``custom --name NAME`` (your own math data) becomes ``DIR/NAME.parquet``. An existing output is
kept unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from verl_dsdr.data.loading import LOCAL_SUFFIXES, DataError, load_rows
from verl_dsdr.data.prepare import PrepareReport, prepare_rows, rejected_path, resolve_columns
from verl_dsdr.data.schema import PROMPT_STYLES, write_parquet
from verl_dsdr.data.sources import CUSTOM, DATASETS, DatasetSpec, boxed_data_source, custom_spec, get_spec

__all__ = ["build_parser", "main", "format_summary"]


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(
        f"  {name:<14} {spec.description}" + (f"\n  {'':<14} hub copy: {spec.source_hint}" if spec.source_hint else "")
        for name, spec in DATASETS.items()
    )
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
        help=f"local file ({', '.join(LOCAL_SUFFIXES)}), or a Hugging Face dataset id ORG/NAME (needs network)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--name", default=None, help="with 'custom': the data's name (output NAME.parquet, data_source NAME)"
    )
    parser.add_argument(
        "--split",
        choices=("train", "test"),
        default="test",
        help="with 'custom': extra_info.split written to every row (default test)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
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
    parser.add_argument("--skip-bad", action="store_true", help="drop bad rows (and name them) instead of failing")
    parser.add_argument(
        "--max-errors",
        type=int,
        default=10,
        help="how many bad rows to print; with more, all of them go to OUT/<name>.rejected.jsonl",
    )
    parser.add_argument("--hf-config", default=None, help="hub dataset config (with a hub id as --input)")
    parser.add_argument(
        "--hf-split",
        default=None,
        help="hub dataset split (default: the dataset's only split, "
        "else test for benchmarks and custom, train for DAPO)",
    )
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


def _spec(args: argparse.Namespace) -> DatasetSpec:
    if args.dataset == CUSTOM:
        if args.name is None:
            raise DataError("custom data needs --name NAME (the output file NAME.parquet and the data_source)")
        try:
            return custom_spec(args.name, args.split)
        except ValueError as err:
            raise DataError(str(err)) from None
    if args.name is not None:
        raise DataError(
            f"--name only goes with 'custom'; {args.dataset} writes {get_spec(args.dataset).output_stem}.parquet"
        )
    return get_spec(args.dataset)


def run(args: argparse.Namespace) -> PrepareReport:
    """Load, validate, deduplicate and write one dataset; returns its report."""
    if args.max_errors < 0:
        raise DataError(f"--max-errors must be >= 0, got {args.max_errors}")
    spec = _spec(args)
    output = args.out / f"{spec.output_stem}.parquet"
    if output.exists() and not args.overwrite:
        raise DataError(f"{output} exists; pass --overwrite to replace it (or choose another --out)")
    style = args.prompt_style or spec.default_style
    if args.data_source is not None:
        data_source = args.data_source
    elif style == "boxed":
        data_source = boxed_data_source(spec)
    else:
        data_source = spec.data_source
    rows, origin = load_rows(
        args.input, hub_config=args.hf_config, hub_split=args.hf_split, preferred_splits=spec.hub_splits
    )
    if not rows:
        raise DataError(f"{origin} is empty: it has no rows")
    columns = resolve_columns(
        rows, spec, problem_column=args.problem_column, answer_column=args.answer_column, id_column=args.id_column
    )
    print(
        f"{spec.name}: {len(rows)} rows from {origin}; problem={columns.problem!r} answer={columns.answer!r} "
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
        rejected_file=rejected_path(output),
    )
    for number, reason in report.bad_rows[: args.max_errors]:
        print(f"dropped bad row {number}: {reason}", file=sys.stderr)
    if report.rejected_file is not None:
        print(
            f"dropped {len(report.bad_rows)} bad rows in all; every one is listed in {report.rejected_file}",
            file=sys.stderr,
        )
    for number, first in report.conflicting_duplicates[: args.max_errors]:
        print(
            f"warning: row {number} repeats the problem of row {first} with another answer; kept row {first}",
            file=sys.stderr,
        )
    if not records:
        raise DataError(f"{spec.name}: no row is left to write (all {len(rows)} were bad or duplicates)")
    report.output = write_parquet(records, output)
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
