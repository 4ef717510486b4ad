"""Whole training step through verl's real trainer on CPU: DSDR vs plain GRPO, same seed and batch.

    .venv/bin/python scripts/bench_step.py [--steps 8] [--json out.json]

Runs ``python -m verl_dsdr.main_ppo preset=cpu`` twice (GRPO, then DSDR) on the embedded model
with identical data, seed and batch, and reports per-stage medians over the steps after the
first (which pays one-time warm-up), with DSDR/GRPO ratios:

- ``step``: ``timing_s/step``.
- ``gen``: generation *including* reward scoring (verl's reward loop scores each trajectory
  as it finishes; the agent loop returns a trajectory after its reward).
- ``post_rollout``: ``old_log_prob + adv``, the time from the batch's trajectories being in
  TransferQueue to the advantages being ready (the DSDR group step is in ``adv``).
- ``update_actor``: the actor update (DSDR's local term is here).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verl_dsdr.launch import embedded_cpu_run, run_training  # noqa: E402

STAGES = {
    "step": ("timing_s/step",),
    "gen": ("timing_s/gen",),
    "post_rollout": ("timing_s/old_log_prob", "timing_s/adv"),
    "adv": ("timing_s/adv",),
    "update_actor": ("timing_s/update_actor",),
}


def stage_medians(metrics: list[dict]) -> dict[str, float]:
    steps = [m for m in metrics if "timing_s/step" in m][1:]  # drop the warm-up step
    if not steps:
        raise RuntimeError("fewer than 2 training steps were logged; raise --steps")
    return {name: statistics.median(sum(m.get(k, 0.0) for k in keys) for m in steps) for name, keys in STAGES.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="folder for the two runs' logs (default: a temp folder)")
    args = parser.parse_args(argv)

    from verl_dsdr.assets.build import build_assets

    assets = build_assets()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_step_"))
    results = {}
    for estimator in ("grpo", "dsdr"):
        run = run_training(
            embedded_cpu_run(assets, estimator, args.steps, args.seed),
            out / estimator,
        )
        if run.returncode != 0:
            print(run.tail(), file=sys.stderr)
            raise SystemExit(f"{estimator} run failed (exit {run.returncode}); logs in {run.run_dir}")
        results[estimator] = {
            "wall_s": run.wall_s,
            "peak_rss_gb": run.peak_rss_gb,
            "stages_s": stage_medians(run.metrics),
        }
        if estimator == "dsdr":
            results[estimator]["dsdr_group_step_s"] = statistics.median(run.series("dsdr/diversity_time_trainer_s")[1:])
    ratios = {k: results["dsdr"]["stages_s"][k] / results["grpo"]["stages_s"][k] for k in STAGES}
    report = {
        "device": "cpu (verl_dsdr CPU backend)",
        "steps": args.steps,
        "runs": results,
        "ratio_dsdr_over_grpo": ratios,
    }
    print(f"{'stage':<14}{'GRPO s':>10}{'DSDR s':>10}{'ratio':>8}")
    for k in STAGES:
        print(f"{k:<14}{results['grpo']['stages_s'][k]:>10.3f}{results['dsdr']['stages_s'][k]:>10.3f}{ratios[k]:>8.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
