"""Where a CPU run's start-up time goes: one quickstart-sized run, phase by phase.

    .venv/bin/python scripts/bench_startup.py                 # run 3 DSDR steps, then print the table
    .venv/bin/python scripts/bench_startup.py --run-dir DIR   # the table of a finished run (no run)
    .venv/bin/python scripts/bench_startup.py --json out.json

The times come from the run itself: ``python -m verl_dsdr.launch`` (``run_training``) notes when
each start-up milestone and each training step reached it (``timeline.json`` beside
``train.log``; :class:`verl_dsdr.utils.console.Timeline`): driver start -> Ray started -> TaskRunner
up -> dataloaders built -> actor worker group created -> actor engine initialized -> reward loop
manager initialized -> checkpoint engine manager initialized -> training loop set up -> agent-loop
and reward workers ready -> step 1 begins, then each training step, the trainer's exit and the
stopping of its processes. Lines reach the launcher through Ray's log forwarding, so each time is late by up to about a
second; on a shared machine every figure is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def phase_table(timeline: dict) -> list[tuple[str, float, float]]:
    """``(phase, seconds, ends at)`` rows: each milestone from the one before, the steps, the shutdown."""
    rows: list[tuple[str, float, float]] = []
    previous_label, previous = "driver start", 0.0
    for label, at in timeline["milestones"]:
        rows.append((f"{previous_label} -> {label}", at - previous, at))
        previous_label, previous = label, at
    for step, at in timeline["steps"]:
        rows.append((f"training step {step}", at - previous, at))
        previous = at
    for event in ("trainer exited", "processes stopped"):
        at = timeline.get("events", {}).get(event)
        if at is not None:
            rows.append((event if event != "trainer exited" else "shutdown: trainer exited", at - previous, at))
            previous = at
    return rows


def format_table(rows: list[tuple[str, float, float]]) -> str:
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'phase'.ljust(width)}  {'seconds':>8}  {'at':>7}"]
    lines += [f"{name.ljust(width)}  {seconds:8.1f}  {at:7.1f}" for name, seconds, at in rows]
    return "\n".join(lines)


def run_once(steps: int, run_dir: Path) -> Path:
    """One ``preset=cpu`` DSDR run of the quickstart's size on the embedded assets."""
    from verl_dsdr.assets.build import build_assets
    from verl_dsdr.launch import embedded_cpu_run, run_training

    run = run_training(embedded_cpu_run(build_assets(), "dsdr", steps), run_dir)
    if run.returncode != 0:
        raise SystemExit(f"the run failed (exit {run.returncode}); see {run_dir / 'train.log'}")
    return run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="a finished run's folder (holding timeline.json): no new run")
    parser.add_argument("--steps", type=int, default=3, help="training steps of the new run (default 3)")
    parser.add_argument("--json", type=Path, help="also write the rows and the timeline here")
    args = parser.parse_args(argv)
    if args.run_dir is None:
        from verl_dsdr.launch import RunInterrupted

        try:
            run_dir = run_once(args.steps, REPO / "runs" / f"bench_startup-{time.strftime('%Y%m%d-%H%M%S')}")
        except RunInterrupted as interrupted:
            print(interrupted.message(), file=sys.stderr)
            return interrupted.exit_code
    else:
        run_dir = args.run_dir
    path = run_dir / "timeline.json"
    if not path.is_file():
        print(
            f"error: {path} not found: it is written by python -m verl_dsdr.launch at the end of a run", file=sys.stderr
        )
        return 2
    timeline = json.loads(path.read_text())
    rows = phase_table(timeline)
    print(f"start-up of {run_dir}\n{format_table(rows)}")
    if args.json:
        args.json.write_text(json.dumps({"run_dir": str(run_dir), "rows": rows, "timeline": timeline}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
