"""The CPU smoke run behind ``VERL_DSDR_CPU_SMOKE=1 bash examples/<script>.sh`` (see lib/smoke.sh).

``python examples/lib/smoke_run.py RUN_DIR OVERRIDES...`` trains through
:func:`verl_dsdr.launch.run_training` (a Ray folder of its own; exactly the run's processes are
stopped afterwards), prints the run's log as it grows, then checks what a smoke test promises:
exit 0, every planned step logged once, validation metrics and a checkpoint of the last step.
Exit status: the run's own when it failed, 1 when it ran but a promise was not kept, else 0.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from omegaconf import OmegaConf

from verl_dsdr.launch import RunResult, run_training


def follow(path: Path, done: threading.Event, every_s: float = 0.5) -> None:
    """Copy ``path`` to stdout as it grows, until ``done`` is set and the file is read to its end."""
    while not path.exists() and not done.is_set():
        time.sleep(every_s)
    if not path.exists():
        return
    with open(path, errors="replace") as log:
        while True:
            chunk = log.read()
            if chunk:
                sys.stdout.write(chunk)
                sys.stdout.flush()
            elif done.is_set():
                return
            else:
                time.sleep(every_s)


def planned_steps(overrides: list[str]) -> int:
    """``trainer.total_training_steps`` as the override list sets it (the last setting wins)."""
    parsed = OmegaConf.from_dotlist([o.lstrip("+") for o in overrides if o.lstrip("+").startswith("trainer.")])
    return int(parsed.trainer.total_training_steps)


def broken_promises(run: RunResult, steps: int) -> list[str]:
    """What the smoke run should have done and did not (empty when all is well)."""
    problems = []
    logged = [m["step"] for m in run.metrics if any(k.startswith("training/") for k in m)]
    if len(logged) != len(set(logged)):
        problems.append(f"a step was logged twice: {logged}")
    if not logged or max(logged) != steps:
        problems.append(f"the last logged step is {max(logged, default=None)}, expected {steps}")
    if not any(k.startswith("val-core/") for m in run.metrics for k in m):
        problems.append("no validation metrics (val-core/...) were logged")
    if not (run.run_dir / f"global_step_{steps}").is_dir():
        problems.append(f"no checkpoint {run.run_dir / f'global_step_{steps}'}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: smoke_run.py RUN_DIR OVERRIDES...", file=sys.stderr)
        return 2
    run_dir, overrides = Path(argv[0]), argv[1:]
    steps = planned_steps(overrides)
    done = threading.Event()
    follower = threading.Thread(target=follow, args=(run_dir / "train.log", done), daemon=True)
    follower.start()
    try:
        run = run_training(overrides, run_dir)
    finally:
        done.set()
        follower.join(timeout=10)
    if run.returncode != 0:
        print(f"[verl-dsdr] smoke test FAILED: training exited with {run.returncode} ({run.run_dir / 'train.log'})")
        return run.returncode
    problems = broken_promises(run, steps)
    for problem in problems:
        print(f"[verl-dsdr] smoke test FAILED: {problem}")
    if problems:
        return 1
    print(f"[verl-dsdr] smoke test passed: {steps} steps, validation, checkpoint {run.run_dir / f'global_step_{steps}'}"
          f" ({run.wall_s:.0f} s, peak memory {run.peak_rss_gb:.1f} GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
