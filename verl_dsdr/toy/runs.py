"""Launch one (method, seed) training run of the toy reproduction, resumably.

Each run is ``python -m verl_dsdr.main_ppo preset=cpu ...`` through ``verl_dsdr.launch`` (its own
Ray folder, its own processes stopped by identity afterwards or on Ctrl-C), writing into
``<out>/runs/<method>/seed<k>/``: ``metrics.jsonl`` (verl's file logger), ``train.log``,
``val/<step>.jsonl`` (verl's validation dump), ``rollouts/<step>.jsonl`` (every training rollout),
``samples.jsonl`` (the dump as eval rows), ``samples.entropy.json`` (each row's token entropy under
the final policy, whose checkpoint is deleted afterwards) and, last, ``DONE`` (JSON with the run's
timings). A folder with ``DONE`` is a finished run and is skipped; a folder without it is a run that
was cut off, and is deleted and restarted from the warm start.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from verl_dsdr.launch import run_training
from verl_dsdr.summary import STEP_TIME_KEY, read_metrics
from verl_dsdr.toy.convert import convert_dump, dump_of_step, latest_dump, read_jsonl
from verl_dsdr.toy.methods import ToyPlan, method_overrides, plan_overrides

__all__ = [
    "RunError",
    "RunTarget",
    "run_dir",
    "is_finished",
    "read_done",
    "sample_label",
    "build_overrides",
    "launch_run",
    "BENCHMARK",
    "WARM_START",
    "warm_start_samples",
    "entropy_path",
    "write_entropies",
    "read_entropies",
]

DONE = "DONE"
CHECKPOINTS = "ckpt"
BENCHMARK = "arith_val"
"""Benchmark name of the held-out toy problems in the eval rows (and ``metrics.json``)."""
WARM_START = "warm_start"
"""Method name of the reference row: the warm-started policy itself, validated before any update."""


class RunError(RuntimeError):
    """A training run failed; the message names its log."""


@dataclass(frozen=True)
class RunTarget:
    """Where a run reads its inputs: the warm-started model, training and validation parquet files."""

    model_dir: str
    train_parquet: str
    val_parquet: str


def run_dir(out: str | Path, method: str, seed: int) -> Path:
    return Path(out) / "runs" / method / f"seed{seed}"


def sample_label(method: str, seed: int) -> str:
    """The evaluation CLI's method key of one run (``dsdr_wo_gd-seed1``), as in ``eval/metrics.json``."""
    return f"{method}-seed{seed}"


def is_finished(folder: str | Path) -> bool:
    return (Path(folder) / DONE).is_file()


def read_done(folder: str | Path) -> dict:
    return json.loads((Path(folder) / DONE).read_text())


def warm_start_samples(out: str | Path, methods: list[str], seeds: list[int]) -> list[Path]:
    """The warm start's samples file, recorded by whichever finished run validated it (at most one)."""
    for seed in seeds:
        for method in methods:
            folder = run_dir(out, method, seed)
            if is_finished(folder) and read_done(folder).get("warm_start_samples"):
                return [Path(out) / read_done(folder)["warm_start_samples"]]
    return []


def build_overrides(
    method: str,
    seed: int,
    plan: ToyPlan,
    target: RunTarget,
    folder: Path,
    extra: tuple[str, ...] = (),
    validate_before: bool = False,
) -> list[str]:
    """The ``main_ppo`` overrides of one run (shared plan, the method's block, then ``extra``, which wins).

    ``validate_before`` also validates the warm start before the first update (same sampling, dumped
    as ``val/0.jsonl``): the reference row of the report, paid for once per reproduction.
    """
    return [
        "preset=cpu",
        f"actor_rollout_ref.model.path={target.model_dir}",
        f"data.train_files={target.train_parquet}",
        f"data.val_files={target.val_parquet}",
        f"data.seed={seed}",
        f"trainer.experiment_name={sample_label(method, seed)}",
        f"trainer.validation_data_dir={folder / 'val'}",
        f"trainer.rollout_data_dir={folder / 'rollouts'}",  # per-step solution forms (report)
        # The final policy's weights, for its token entropy on the held-out samples (then deleted).
        f"trainer.default_local_dir={folder / CHECKPOINTS}",
        f"trainer.save_freq={plan.steps}",
        "actor_rollout_ref.actor.checkpoint.save_contents=[model,hf_model]",
        *plan_overrides(plan),
        *method_overrides(method, plan),
        *(["trainer.val_before_train=true"] if validate_before else []),
        *extra,
    ]


def entropy_path(samples: Path) -> Path:
    """Where the entropies of a samples file live: ``samples.jsonl`` -> ``samples.entropy.json``."""
    return samples.with_suffix(".entropy.json")


def write_entropies(samples: Path, model_dir: Path, tokenizer_dir: str) -> Path:
    """Measure every row's token entropy under ``model_dir`` and write them beside ``samples``."""
    from verl_dsdr.toy.entropy import response_entropies

    values = response_entropies(model_dir, tokenizer_dir, read_jsonl(samples))
    path = entropy_path(samples)
    path.write_text(json.dumps({"model": str(model_dir), "entropy": values}))
    return path


def read_entropies(samples: Path) -> dict[int, float]:
    """Row position -> entropy, or {} when the run has none (runs made before entropies existed)."""
    path = entropy_path(samples)
    if not path.is_file():
        return {}
    return dict(enumerate(json.loads(path.read_text())["entropy"]))


def _series_sum(rows: list[dict], key: str) -> tuple[float, int]:
    """Sum and count of a metric's numeric values over the logged steps."""
    values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return sum(values), len(values)


def launch_run(
    method: str,
    seed: int,
    plan: ToyPlan,
    target: RunTarget,
    out: str | Path,
    *,
    python: str = sys.executable,
    timeout_s: float | None = None,
    extra: tuple[str, ...] = (),
    validate_before: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Train one (method, seed) run unless it already finished; returns its ``DONE`` record."""
    folder = run_dir(out, method, seed)
    if is_finished(folder):
        return read_done(folder) | {"skipped": True}
    if folder.exists():
        log(f"[toy] {method} seed {seed}: removing a half-finished run in {folder}")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    log(f"[toy] {method} seed {seed}: training {plan.steps} steps (log: {folder / 'train.log'})")
    run = run_training(
        build_overrides(method, seed, plan, target, folder, extra, validate_before),
        folder,
        timeout_s=timeout_s if timeout_s is not None else float("inf"),
        python=python,
    )
    wall, leftovers = run.wall_s, run.leftovers
    if run.timed_out:
        raise RunError(f"{method} seed {seed} ran past {timeout_s:.0f}s; see {folder / 'train.log'}")
    if run.returncode != 0:
        raise RunError(
            f"{method} seed {seed} failed (exit {run.returncode}); see {folder / 'train.log'}:\n{run.tail(30)}"
        )
    samples, n_rows = convert_dump(
        latest_dump(folder / "val"), folder / "samples.jsonl", sample_label(method, seed), BENCHMARK
    )
    warm = dump_of_step(folder / "val", 0) if validate_before else None
    if warm is not None:
        warm, _ = convert_dump(warm, folder / "samples_warm_start.jsonl", sample_label(WARM_START, 0), BENCHMARK)
    policy = folder / CHECKPOINTS / f"global_step_{plan.steps}" / "actor" / "huggingface"
    if not policy.is_dir():
        raise RunError(f"{method} seed {seed}: no final policy at {policy}; see {folder / 'train.log'}")
    write_entropies(samples, policy, target.model_dir)
    if warm is not None:
        write_entropies(warm, Path(target.model_dir), target.model_dir)
    shutil.rmtree(folder / CHECKPOINTS)  # the weights served their purpose; runs stay small
    rows = read_metrics(folder / "metrics.jsonl") if (folder / "metrics.jsonl").is_file() else []
    train_s, steps = _series_sum(rows, STEP_TIME_KEY)
    val_s, _ = _series_sum(rows, "timing_s/testing")
    record = {
        "method": method,
        "seed": seed,
        "steps": steps,
        "wall_s": wall,
        "train_s": train_s,
        "validation_s": val_s,
        "overhead_s": wall - train_s - val_s,
        "samples": str(samples.relative_to(Path(out))),
        "samples_rows": n_rows,
        "warm_start_samples": str(warm.relative_to(Path(out))) if warm is not None else None,
        "leftover_processes_stopped": len(leftovers),
        "ray_dir": run.ray_dir,
        "process_token": run.token,
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if steps != plan.steps:
        raise RunError(f"{method} seed {seed} logged {steps} steps, expected {plan.steps}; see {folder / 'train.log'}")
    tmp = folder / (DONE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(folder / DONE)
    log(
        f"[toy] {method} seed {seed}: done in {wall:.0f}s (train {train_s:.0f}s over {steps} steps, "
        f"validation {val_s:.0f}s, start-up/shut-down {record['overhead_s']:.0f}s)"
    )
    return record
