"""Summarise a training run from verl's file logger: ``python -m verl_dsdr.summary [RUN_DIR | FILE.jsonl]``.

Reads verl's ``FileLogger`` output (one ``{"step", "data"}`` per line) and prints steps, mean
reward, group outcomes, step times, the ``dsdr/`` metrics, the validation curves (verl's
``val-core/<data_source>/<acc|reward>/<metric>`` at each validation step, one table per metric with
a column per benchmark) and where the logs are; writes the same as JSON beside the log, and with
``--plot`` the validation curves as a PNG beside it. Where the log is, in order:
- a ``.jsonl`` file given on the command line;
- ``RUN_DIR/metrics.jsonl`` for a folder (the layout of this project's scripts and examples);
- with no argument, where verl's ``FileLogger`` writes: ``$VERL_FILE_LOGGER_PATH`` if set, else
  ``$VERL_FILE_LOGGER_ROOT`` (default ``.``) ``/<trainer.project_name>/<trainer.experiment_name>.jsonl``
  (``--project-name`` / ``--experiment-name``; verl's defaults ``verl_examples`` / ``gsm8k``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verl_dsdr.utils.jsonl import JsonlError, iter_jsonl

REWARD_KEYS = ("critic/score/mean", "critic/rewards/mean")
STEP_TIME_KEY = "timing_s/step"
"""verl's wall time of one training step (validation excluded), seconds."""
RUN_LOG = "metrics.jsonl"
VAL_CORE = re.compile(r"val-core/(?P<benchmark>.+)/(?P<metric>(?:acc|reward)/(?:mean|maj|best)@\d+(?:/\w+)?)")
"""verl's core validation keys (``ray_trainer._val_metrics_update``); the data source may hold ``/``."""
VERL_PROJECT_DEFAULT = "verl_examples"  # trainer.project_name in verl's ppo_trainer.yaml
VERL_EXPERIMENT_DEFAULT = "gsm8k"  # trainer.experiment_name in verl's ppo_trainer.yaml


class SummaryError(ValueError):
    """The metrics log cannot be read; the message names the file and the fix."""


def verl_file_logger_path(
    project_name: str = VERL_PROJECT_DEFAULT,
    experiment_name: str = VERL_EXPERIMENT_DEFAULT,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The file verl's ``FileLogger`` (``verl/utils/tracking.py``) writes for this project and experiment."""
    env = os.environ if environ is None else environ
    if env.get("VERL_FILE_LOGGER_PATH"):
        return Path(env["VERL_FILE_LOGGER_PATH"])
    root = Path(os.path.expanduser(env.get("VERL_FILE_LOGGER_ROOT", ".")))
    return root / project_name / f"{experiment_name}.jsonl"


def metrics_path(target: Path) -> Path:
    """A ``.jsonl`` file as is; a folder's ``metrics.jsonl``."""
    return target / RUN_LOG if target.is_dir() else target


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """One dict per logged line: ``{"step": ..., **data}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: no metrics log there. Pass the run folder holding metrics.jsonl or the .jsonl file "
            "verl's file logger wrote (trainer.logger must include 'file'; it writes to VERL_FILE_LOGGER_PATH if set, "
            "else ./<project_name>/<experiment_name>.jsonl)"
        )
    try:
        return [{"step": record.get("step"), **(record.get("data") or {})} for _, record in iter_jsonl(path)]
    except JsonlError as error:
        raise SummaryError(str(error)) from None


def _series(rows: list[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def validation_curves(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """``{metric: {"steps": [...], "benchmarks": {benchmark: [value or None per step]}}}`` from the
    ``val-core/`` keys; ``metric`` is ``acc/mean@16`` and the like, steps in the order they were logged."""
    found: dict[str, dict[str, dict[int, float]]] = {}
    for row in rows:
        step = row.get("step")
        for key, value in row.items():
            match = VAL_CORE.fullmatch(key)
            if match is None or not isinstance(value, (int, float)) or step is None:
                continue
            found.setdefault(match["metric"], {}).setdefault(match["benchmark"], {})[int(step)] = float(value)
    curves: dict[str, dict[str, Any]] = {}
    for metric, by_benchmark in found.items():
        steps = sorted({step for values in by_benchmark.values() for step in values})
        curves[metric] = {
            "steps": steps,
            "benchmarks": {b: [values.get(step) for step in steps] for b, values in by_benchmark.items()},
        }
    return curves


def plot_validation(curves: dict[str, dict[str, Any]], path: Path) -> Path:
    """One panel per validation metric, one line per benchmark, step on the x-axis (a PNG at ``path``)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if not curves:
        raise SummaryError("no val-core/ metrics in the log to plot: the run never validated (trainer.test_freq)")
    fig, axes = plt.subplots(1, len(curves), figsize=(4.6 * len(curves), 3.4), squeeze=False)
    for ax, (metric, curve) in zip(axes.flat, curves.items()):
        for benchmark, values in curve["benchmarks"].items():
            points = [(s, 100.0 * v) for s, v in zip(curve["steps"], values) if v is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=benchmark)
        ax.set_title(f"val-core/<benchmark>/{metric}")
        ax.set_xlabel("step")
        ax.set_ylabel("%")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def summarize(target: Path) -> dict[str, Any]:
    """Summary of the log at ``target`` (a run folder or a ``.jsonl`` file)."""
    log = metrics_path(Path(target))
    run_dir = log.parent
    rows = [r for r in read_metrics(log) if r.get("step") is not None]
    train = [r for r in rows if any(k.startswith(("actor/", "critic/")) for k in r)]
    reward_key = next((k for k in REWARD_KEYS if _series(train, k)), None)
    step_times = _series(train, STEP_TIME_KEY)
    summary: dict[str, Any] = {
        "run_dir": str(run_dir),
        "metrics_file": str(log),
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
        "validation": validation_curves(rows),
    }
    run_info = run_dir / "run_info.json"
    if run_info.exists():
        summary["run_info"] = json.loads(run_info.read_text())
    memory = run_dir / "memory.json"  # written by python -m verl_dsdr.launch
    if memory.exists():
        summary["memory"] = json.loads(memory.read_text())
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
        + ", ".join(f"{v:.3f}" for v in summary["reward_by_step"])
        + ")",
        f"  groups all-correct / mixed / all-wrong   {_fmt(summary['frac_all_correct_groups'])} / "
        f"{_fmt(summary['frac_mixed_groups'])} / {_fmt(summary['frac_all_wrong_groups'])}",
        f"  step time: first {_fmt(summary['first_step_s'])} s, later {_fmt(summary['later_step_s_mean'])} s",
        f"  actor grad norm (mean)     {_fmt(summary['grad_norm_mean'])}",
        f"  rollout vs actor log-prob max diff  {_fmt(summary['rollout_probs_diff_max'])}",
    ]
    if summary.get("memory"):
        memory = summary["memory"]
        top = ", ".join(f"{k} {v / 1024:.2f}" for k, v in list(memory["by_kind_mb"].items())[:4])
        lines.append(f"  peak memory                {memory['peak_pss_gb']:.2f} GB summed PSS over the run's processes")
        lines.append(f"    largest at the peak (GB): {top}  (all: memory.json)")
    if summary.get("train_s") is not None:
        lines.append(f"  training part              {summary['train_s']:.0f} s (Ray and worker start-up included)")
    if wall_s is not None:
        lines.append(f"  wall time                  {wall_s:.0f} s")
    if summary["dsdr"]:
        lines.append("  dsdr/ metrics (mean over steps):")
        lines += [f"    {k:<36} {_fmt(v)}" for k, v in summary["dsdr"].items()]
    lines += _render_validation(summary.get("validation") or {})
    lines += [f"  metrics: {summary['metrics_file']}", f"  logs:    {summary['run_dir']}", "=" * 64]
    return "\n".join(lines)


def _render_validation(curves: dict[str, dict[str, Any]]) -> list[str]:
    if not curves:
        return ["  validation: no val-core/ metrics logged (trainer.test_freq, trainer.val_before_train)"]
    lines = []
    for metric, curve in curves.items():
        names = list(curve["benchmarks"])
        widths = [max(8, len(name)) for name in names]
        lines.append(f"  validation val-core/<benchmark>/{metric} by step:")
        lines.append("    " + f"{'step':>6}  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths)))
        for i, step in enumerate(curve["steps"]):
            cells = [_fmt(curve["benchmarks"][n][i]) for n in names]
            lines.append("    " + f"{step:>6}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    return lines


def summary_path(log: Path) -> Path:
    """``summary.json`` beside a run folder's ``metrics.jsonl``, else ``<name>.summary.json`` beside the log."""
    return log.parent / ("summary.json" if log.name == RUN_LOG else f"{log.stem}.summary.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verl_dsdr.summary",
        description="Summarise a training run from verl's file logger (trainer.logger includes 'file').",
    )
    parser.add_argument(
        "target",
        type=Path,
        nargs="?",
        default=None,
        help="run folder holding metrics.jsonl, or the .jsonl file (default: where verl's file "
        "logger writes: $VERL_FILE_LOGGER_PATH, else "
        "$VERL_FILE_LOGGER_ROOT/<project-name>/<experiment-name>.jsonl)",
    )
    parser.add_argument(
        "--project-name", default=VERL_PROJECT_DEFAULT, help="trainer.project_name of the run (without TARGET)"
    )
    parser.add_argument(
        "--experiment-name", default=VERL_EXPERIMENT_DEFAULT, help="trainer.experiment_name of the run (without TARGET)"
    )
    parser.add_argument("--wall-s", type=float, default=None, help="wall time of the whole command, for the report")
    parser.add_argument(
        "--train-s", type=float, default=None, help="wall time of the training run alone, for the report"
    )
    parser.add_argument(
        "--plot",
        action="store_true",
        help="also draw the validation curves (val-core/ metrics by step) to validation.png beside the log",
    )
    args = parser.parse_args(argv)
    target = args.target or verl_file_logger_path(args.project_name, args.experiment_name)
    try:
        summary = summarize(target)
    except (SummaryError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.wall_s is not None:
        summary["wall_s"] = args.wall_s
    if args.train_s is not None:
        summary["train_s"] = args.train_s
    out = summary_path(Path(summary["metrics_file"]))
    out.write_text(json.dumps(summary, indent=2))
    print(render(summary, args.wall_s))
    if args.plot:
        try:
            figure = plot_validation(
                summary["validation"], out.with_name(out.name.replace("summary.json", "validation.png"))
            )
        except SummaryError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"validation curves: {figure}")
    if summary["steps"] == 0:
        print("no training step was logged: see the run's console log (train.log for this project's scripts)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
