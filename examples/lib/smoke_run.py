"""The CPU smoke run behind ``VERL_DSDR_CPU_SMOKE=1 bash examples/<script>.sh`` (see lib/smoke.sh).

``python examples/lib/smoke_run.py RUN_DIR OVERRIDES...`` trains through
:func:`verl_dsdr.launch.run_training` (a Ray folder of its own; exactly the run's processes are
stopped afterwards; the output goes to the console and ``RUN_DIR/train.log``), then checks what a
smoke test promises: exit 0, every planned step logged once, validation metrics and a checkpoint
of the last step.
Exit status: the run's own when it failed, 1 when it ran but a promise was not kept, else 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from verl_dsdr.launch import RunResult, run_training


def planned_steps(overrides: list[str]) -> int:
    """``trainer.total_training_steps`` as the override list sets it (the last setting wins)."""
    values = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").split("=", 1)[0] == "trainer.total_training_steps"]
    return int(values[-1])


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
    run = run_training(overrides, run_dir, echo=True)
    if run.returncode != 0:
        print(f"[verl-dsdr] smoke test FAILED: training exited with {run.returncode} ({run.run_dir / 'train.log'})")
        return run.returncode
    problems = broken_promises(run, steps)
    for problem in problems:
        print(f"[verl-dsdr] smoke test FAILED: {problem}")
    if problems:
        return 1
    print(
        f"[verl-dsdr] smoke test passed: {steps} steps, validation, checkpoint {run.run_dir / f'global_step_{steps}'}"
        f" ({run.wall_s:.0f} s, peak memory {run.peak_rss_gb:.1f} GB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
