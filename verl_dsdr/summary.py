"""Summarise a training run from verl's file logger: ``python -m verl_dsdr.summary RUN_DIR``.

Reads ``RUN_DIR/metrics.jsonl`` (verl's ``FileLogger``: one ``{"step", "data"}`` per line) and
prints steps, mean reward, group outcomes, step times, the ``dsdr/`` metrics and where the
logs are; writes the same as ``RUN_DIR/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

REWARD_KEYS = ("critic/score/mean", "critic/rewards/mean")
STEP_TIME_KEYS = ("timing_s/step",)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: was the run started with VERL_FILE_LOGGER_PATH set to it?")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number} is not JSON ({error}); the run may have been cut mid-write") from None
        rows.append({"step": record.get("step"), **(record.get("data") or {})})
    return rows


def _series(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(run_dir: Path) -> dict[str, Any]:
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("step") is not None]
    train = [r for r in rows if any(k.startswith(("actor/", "critic/")) for k in r)]
    reward_key = next((k for k in REWARD_KEYS if _series(train, k)), None)
    step_times = _series(train, "timing_s/step")
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "steps": len(train),
        "mean_reward": _mean(_series(train, reward_key)) if reward_key else None,
        "reward_by_step": _series(train, reward_key) if reward_key else [],
        "frac_all_correct_groups": _mean(_series(train, "groups/frac_all_correct")),
        "frac_all_wrong_groups": _mean(_series(train, "groups/frac_all_wrong")),
        "frac_mixed_groups": _mean(_series(train, "groups/frac_mixed")),
        "first_step_s": step_times[0] if step_times else None,
        "later_step_s_mean": _mean(step_times[1:]) if len(step_times) > 1 else None,
        "grad_norm_mean": _mean(_series(train, "actor/grad_norm")),
        "rollout_probs_diff_max": max(_series(train, "training/rollout_probs_diff_max"), default=None),
        "dsdr": {k: _mean(_series(train, k)) for k in sorted({k for r in train for k in r if k.startswith("dsdr/")})},
    }
    run_info = run_dir / "run_info.json"
    if run_info.exists():
        summary["run_info"] = json.loads(run_info.read_text())
    return summary


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render(summary: dict[str, Any], wall_s: float | None = None) -> str:
    lines = [
        "=" * 64,
        "verl-dsdr run summary",
        f"  steps                      {summary['steps']}",
        f"  mean reward                {_fmt(summary['mean_reward'])}  (by step: "
        + ", ".join(f"{v:.3f}" for v in summary["reward_by_step"]) + ")",
        f"  groups all-correct / mixed / all-wrong   {_fmt(summary['frac_all_correct_groups'])} / "
        f"{_fmt(summary['frac_mixed_groups'])} / {_fmt(summary['frac_all_wrong_groups'])}",
        f"  step time: first {_fmt(summary['first_step_s'])} s, later {_fmt(summary['later_step_s_mean'])} s",
        f"  actor grad norm (mean)     {_fmt(summary['grad_norm_mean'])}",
        f"  rollout vs actor log-prob max diff  {_fmt(summary['rollout_probs_diff_max'])}",
    ]
    if wall_s is not None:
        lines.append(f"  wall time                  {wall_s:.0f} s")
    if summary["dsdr"]:
        lines.append("  dsdr/ metrics (mean over steps):")
        lines += [f"    {k:<36} {_fmt(v)}" for k, v in summary["dsdr"].items()]
    lines += [f"  logs: {summary['run_dir']} (train.log, metrics.jsonl, summary.json)", "=" * 64]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--wall-s", type=float, default=None, help="wall time of the whole command, for the report")
    args = parser.parse_args(argv)
    summary = summarize(args.run_dir)
    if args.wall_s is not None:
        summary["wall_s"] = args.wall_s
    (args.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(render(summary, args.wall_s))
    if summary["steps"] == 0:
        print("no training step was logged: see train.log")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
