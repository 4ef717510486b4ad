"""CLI: `python -m verl_dsdr.assets build [--cache-dir D] [--seed S] [--print-env]`.

Prints where the assets are; with `--print-env`, as shell `export` lines for scripts
(`eval "$(python -m verl_dsdr.assets build --print-env)"`): `VAL_FILES` is what the example scripts
read (a comma-separated list, here one file); `VAL_FILE`, the same file, is kept for older scripts. Progress goes to stderr. The last
line is the measured warm-start sampling accuracy (a `#` comment under `--print-env`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import replace

from .build import PRESETS, build_assets, cache_key, default_cache_dir, is_complete, load_stats, summary_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_dsdr.assets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build (or reuse) the tokenizer, model, warm start and parquet files")
    build.add_argument(
        "--cache-dir", default=None, help=f"cache folder (default: $VERL_DSDR_CACHE or {default_cache_dir()})"
    )
    build.add_argument("--seed", type=int, default=0, help="seed for data split, model init, warm start (default 0)")
    build.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="which task: the quickstart's (default) or the toy reproduction's (toy)",
    )
    build.add_argument("--warm-start-steps", type=int, default=None, help="override the number of warm-start steps")
    build.add_argument(
        "--print-env",
        action="store_true",
        help="print `export MODEL_PATH=... TRAIN_FILE=... VAL_FILES=... VAL_FILE=...` lines (VAL_FILES as the "
        "example scripts read it; VAL_FILE, the same file, for older scripts)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = PRESETS[args.preset]
    if args.warm_start_steps is not None:
        config = replace(config, warm_start=replace(config.warm_start, steps=args.warm_start_steps))
    parent = args.cache_dir if args.cache_dir is not None else str(default_cache_dir())
    key = cache_key(config, args.seed)
    cached = is_complete(f"{parent}/{key}")
    print(f"{'reusing' if cached else 'building'} assets {key} in {parent}", file=sys.stderr, flush=True)
    paths = build_assets(cache_dir=parent, seed=args.seed, config=config, progress=True)
    if args.print_env:
        print(f"export MODEL_PATH={shlex.quote(paths.model_dir)}")
        print(f"export TRAIN_FILE={shlex.quote(paths.train_parquet)}")
        print(f"export VAL_FILES={shlex.quote(paths.val_parquet)}")
        print(f"export VAL_FILE={shlex.quote(paths.val_parquet)}")
        print(f"export VERL_DSDR_ASSETS={shlex.quote(paths.root)}")
        print(f"# {summary_line(load_stats(paths))}")
    else:
        for name in ("root", "model_dir", "tokenizer_dir", "train_parquet", "val_parquet", "stats_json"):
            print(f"{name}: {getattr(paths, name)}")
        print(summary_line(load_stats(paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
