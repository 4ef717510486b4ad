"""``python -m verl_dsdr.toy run|report``: the laptop-scale DSDR reproduction.

``run`` trains every (method, seed) pair from the same warm start (finished pairs are skipped,
cut-off ones restarted), then scores every final policy's validation samples with
``python -m verl_dsdr.eval``. ``report`` writes ``report.md`` and the PNG figures. Both take
``--out`` (default ``runs/toy``); ``run`` records its plan in ``<out>/plan.json`` and refuses to
resume into a folder trained with a different plan.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from verl_dsdr.toy.convert import DumpError
from verl_dsdr.toy.methods import ARMS, DEFAULT_METHODS, FULL_PLAN, SMOKE_PLAN, ToyPlan, parse_methods
from verl_dsdr.toy.runs import RunError, RunTarget, is_finished, launch_run, run_dir, warm_start_samples

if TYPE_CHECKING:  # the assets (torch, transformers) are imported only when a run builds them
    from verl_dsdr.assets.build import AssetPaths

SCRIPT_COMMAND_ENV = "VERL_DSDR_TOY_COMMAND"
DEFAULT_OUT = Path("runs/toy")
SMOKE_OUT = Path("runs/toy_smoke")


def _seeds(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"--seeds must be >= 1, got {n}")
    return n


def _first_seed(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"--first-seed must be >= 0, got {n}")
    return n


def _git_commit() -> str:
    """The checkout's commit as one string (``+dirty`` when tracked files differ), from the evaluation's reader."""
    from verl_dsdr.eval.provenance import git_commit

    code = git_commit()
    return code["commit"] + ("+dirty" if code["dirty"] else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m verl_dsdr.toy", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train every (method, seed) and evaluate the final policies")
    run.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT} ({SMOKE_OUT} with --smoke)")
    run.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated subset of {','.join(ARMS)} (default {','.join(DEFAULT_METHODS)})",
    )
    run.add_argument("--seeds", type=_seeds, default=None, help="how many seeds (default: $SEEDS or 3)")
    run.add_argument(
        "--first-seed",
        type=_first_seed,
        default=0,
        help="seeds are N, N+1, ... (default 0): check the result on seeds the task was not designed on",
    )
    run.add_argument("--smoke", action="store_true", help="1 seed, 2 steps, tiny batch and evaluation (CI)")
    run.add_argument("--steps", type=int)
    run.add_argument("--batch", type=int, help="prompts per step")
    run.add_argument("--rollouts", type=int, help="rollouts per prompt (group size)")
    run.add_argument("--mini-batch", type=int, help="prompts per PPO mini-batch")
    run.add_argument("--lr", type=float)
    run.add_argument("--val-n", type=int, help="validation samples per held-out problem (the pass@k budget)")
    run.add_argument("--val-problems", type=int, help="validate on the first N held-out problems (default: all)")
    run.add_argument(
        "--dapo-dynamic-sampling",
        action="store_true",
        help="DAPO with verl's dynamic sampling (filter_groups); off by default (cost)",
    )
    run.add_argument("--timeout-s", type=float, default=1800.0, help="per-run time limit")
    run.add_argument("--eval-workers", type=int, default=2, help="scoring processes of the evaluation CLI")
    run.add_argument("--dry-run", action="store_true", help="print the plan and each run's command, train nothing")
    run.add_argument("overrides", nargs="*", help="extra verl overrides for every run (after --)")

    report = sub.add_parser("report", help="write report.md and the PNG figures from a finished `run`")
    report.add_argument("--out", type=Path, default=DEFAULT_OUT)
    report.add_argument(
        "--wall-s",
        type=float,
        help="wall time of the whole reproduction, stated in the report (default: the one provenance.json holds)",
    )
    return parser


def plan_from_args(args: argparse.Namespace) -> tuple[ToyPlan, int]:
    if args.seeds is None:
        try:
            args.seeds = _seeds(os.environ.get("SEEDS", "3"))
        except (ValueError, argparse.ArgumentTypeError):
            raise SystemExit(f"error: SEEDS={os.environ.get('SEEDS')!r} must be a positive integer") from None
    base, seeds = (SMOKE_PLAN, 1) if args.smoke else (FULL_PLAN, args.seeds)
    plan = base.with_(
        steps=args.steps,
        batch_prompts=args.batch,
        rollouts=args.rollouts,
        mini_batch_prompts=args.mini_batch,
        lr=args.lr,
        val_n=args.val_n,
        val_problems=args.val_problems,
    )
    if args.dapo_dynamic_sampling:
        plan = plan.with_(dapo_dynamic_sampling=True)
    return plan, seeds


def _check_plan(out: Path, state: dict) -> None:
    """A folder holding finished runs of another plan must not be resumed into (mixed results)."""
    path = out / "plan.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("plan") != state["plan"] or old.get("overrides") != state["overrides"]:
            finished = [p for p in (out / "runs").glob("*/seed*") if is_finished(p)]
            if finished:
                raise SystemExit(
                    f"error: {out} holds {len(finished)} finished run(s) of a different plan ({path}); "
                    "use another --out, or delete the folder to start over"
                )


def _validation_file(assets: AssetPaths, plan: ToyPlan, out: Path) -> str:
    """The held-out parquet, cut to the first ``val_problems`` rows when the plan asks for fewer."""
    if plan.val_problems is None:
        return assets.val_parquet
    import pandas as pd

    frame = pd.read_parquet(assets.val_parquet)
    if plan.val_problems > len(frame):
        raise SystemExit(f"error: --val-problems {plan.val_problems} exceeds the {len(frame)} held-out problems")
    path = out / "data" / f"val_first{plan.val_problems}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.head(plan.val_problems).to_parquet(path, index=False)
    return str(path)


def _evaluate(out: Path, sample_files: list[Path], workers: int) -> float | None:
    """Run the evaluation CLI over every run's samples unless ``eval/`` already covers exactly them."""
    eval_dir = out / "eval"
    fingerprint = [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in sample_files]
    stamp = eval_dir / "inputs.json"
    if (eval_dir / "metrics.json").exists() and stamp.exists() and json.loads(stamp.read_text()) == fingerprint:
        print(f"[toy] evaluation is up to date ({eval_dir})")
        return None
    command = [
        sys.executable,
        "-m",
        "verl_dsdr.eval",
        "--samples",
        *map(str, sample_files),
        "--out",
        str(eval_dir),
        "--workers",
        str(workers),
        "--no-progress",
        "--embedder-device",
        "cpu",
    ]
    print(f"[toy] evaluating {len(sample_files)} run(s) with the evaluation CLI")
    start = time.perf_counter()
    with (out / "eval.log").open("w") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"error: the evaluation failed (exit {result.returncode}); see {out / 'eval.log'}")
    stamp.write_text(json.dumps(fingerprint))
    return time.perf_counter() - start


def _append_timing(out: Path, entry: dict) -> None:
    path = out / "timing.json"
    timing = json.loads(path.read_text()) if path.exists() else {"invocations": []}
    timing["invocations"].append(entry)
    path.write_text(json.dumps(timing, indent=2))


def cmd_run(args: argparse.Namespace, argv: Sequence[str] = ()) -> int:
    try:
        methods = parse_methods(args.methods)
        plan, n_seeds = plan_from_args(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    out: Path = (args.out or (SMOKE_OUT if args.smoke else DEFAULT_OUT)).resolve()
    if not re.fullmatch(r"[\w./+-]+", str(out)):
        print(
            f"error: --out {out} may hold only letters, digits and . _ - + / (the path goes into Hydra overrides)",
            file=sys.stderr,
        )
        return 2
    state = {
        "plan": asdict(plan),
        "methods": methods,
        "seeds": seeds,
        "overrides": list(args.overrides),
        "smoke": bool(args.smoke),
    }
    print(f"[toy] plan: {json.dumps(asdict(plan))}; methods {methods}; seeds {seeds}")
    if args.dry_run:
        from verl_dsdr.launch import main_ppo_command
        from verl_dsdr.toy.runs import build_overrides

        target = RunTarget("<model_dir>", "<train.parquet>", "<val.parquet>")
        for seed in seeds:
            for method in methods:
                folder = run_dir(out, method, seed)
                first = seed == seeds[0] and method == methods[0]
                overrides = build_overrides(method, seed, plan, target, folder, tuple(args.overrides), first)
                print(shlex.join(main_ppo_command(overrides, folder, "<ray_tmp>")))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    _check_plan(out, state)
    # reproduce_toy.sh names itself (SCRIPT_COMMAND_ENV), so the report says what the user typed.
    script = os.environ.get(SCRIPT_COMMAND_ENV)
    (out / "plan.json").write_text(json.dumps(state | {"argv": list(argv), "script_command": script}, indent=2))

    from verl_dsdr.assets.build import PRESETS, build_assets

    started, started_at = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M:%S")
    assets = build_assets(config=PRESETS[plan.assets])
    target = RunTarget(assets.model_dir, assets.train_parquet, _validation_file(assets, plan, out))
    trained: list[str] = []
    skipped: list[str] = []
    eval_s = None
    pairs = [(m, s) for s in seeds for m in methods]  # seed-major: an interrupted job still has whole seeds
    walls: list[float] = []
    try:
        for index, (method, seed) in enumerate(pairs, start=1):
            first = seed == seeds[0] and method == methods[0]
            record = launch_run(
                method,
                seed,
                plan,
                target,
                out,
                timeout_s=args.timeout_s,
                extra=tuple(args.overrides),
                validate_before=first,
            )
            (skipped if record.get("skipped") else trained).append(f"{method}/seed{seed}")
            if record.get("skipped"):
                print(f"[toy] {method} seed {seed}: finished earlier, skipped")
            else:
                walls.append(record["wall_s"])
                left = sum(1 for m, s in pairs[index:] if not is_finished(run_dir(out, m, s)))
                print(
                    f"[toy] {index}/{len(pairs)} runs; {(time.perf_counter() - started) / 60:.1f} min so far, "
                    f"about {left * sum(walls) / len(walls) / 60:.0f} min of training left at this pace"
                )
        samples = warm_start_samples(out, methods, seeds) + [
            run_dir(out, m, s) / "samples.jsonl" for s in seeds for m in methods
        ]
        eval_s = _evaluate(out, samples, args.eval_workers)
    except (RunError, DumpError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        _append_timing(
            out,
            {
                "started": started_at,
                "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                "commit": _git_commit(),
                "wall_s": time.perf_counter() - started,
                "trained": trained,
                "skipped": skipped,
                "eval_s": eval_s,
            },
        )
    print(f"[toy] all runs finished and evaluated in {out}; next: python -m verl_dsdr.toy report --out {out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from verl_dsdr.toy.report import write_report

    out: Path = args.out.resolve()
    plan_path = out / "plan.json"
    if not plan_path.exists():
        print(
            f"error: {plan_path} not found: run `python -m verl_dsdr.toy run --out {args.out}` first", file=sys.stderr
        )
        return 2
    state = json.loads(plan_path.read_text())
    timing_path = out / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    command = state.get("script_command") or "python -m verl_dsdr.toy " + shlex.join(state.get("argv") or ["run"])
    wall_s = args.wall_s
    provenance = out / "provenance.json"
    if wall_s is None and provenance.exists():  # rebuilding a finished report keeps the run's measured time
        wall_s = json.loads(provenance.read_text()).get("wall_s")
    try:
        paths = write_report(
            out,
            state["methods"],
            state["seeds"],
            plan=state["plan"],
            command=command,
            timing=timing,
            wall_s=wall_s,
        )
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"[toy] wrote {paths['report']} and {', '.join(p.name for k, p in paths.items() if k != 'report')}")
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT and SIGTERM unwind like Ctrl-C, so a running run's clean-up stops its own Ray processes."""
    from verl_dsdr.launch import RunInterrupted

    raise RunInterrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a script's background step starts with it ignored
        signal.signal(sig, _interrupt)
    args = build_parser().parse_args(argv)
    try:
        return cmd_run(args, argv) if args.command == "run" else cmd_report(args)
    except KeyboardInterrupt as interrupted:
        for sig in (signal.SIGINT, signal.SIGTERM):  # stopped: a further Ctrl-C must not print a traceback
            signal.signal(sig, signal.SIG_IGN)
        signum = getattr(interrupted, "signum", signal.SIGINT)
        run_dir = getattr(interrupted, "run_dir", None)
        logs = f"; logs: {run_dir / 'train.log'}" if run_dir else ""
        print(
            f"[toy] interrupted by {signal.Signals(signum).name}: finished runs are kept, "
            f"run the same command again to resume{logs}",
            flush=True,
        )
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
