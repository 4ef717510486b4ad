"""Runs verl's real PPO trainer on CPU through `python -m verl_dsdr.main_ppo` (a subprocess per run)."""

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = (REPO / "scripts" / "lib" / "cpu_tiny_overrides.txt").read_text().split()


@dataclass
class Run:
    returncode: int
    log: str
    metrics: list[dict]
    run_info: dict
    wall_s: float

    def series(self, key: str) -> list[float]:
        return [float(m[key]) for m in self.metrics if key in m]


@pytest.fixture(scope="session")
def assets():
    from verl_dsdr.assets.build import build_assets

    return build_assets()


def _ray_temp_dir() -> str:
    # Ray's unix socket paths must stay short: a short folder of our own, removed after the run.
    return tempfile.mkdtemp(prefix="vdsdr_ray_", dir="/tmp")


def _stop_leftovers(ray_dir: str) -> list[int]:
    """Kill processes of *this run's* Ray session (matched by its own temp folder), report them."""
    found = subprocess.run(["pgrep", "-f", ray_dir], capture_output=True, text=True).stdout.split()
    pids = [int(p) for p in found if int(p) != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return pids


@pytest.fixture(scope="session")
def train(assets, tmp_path_factory):
    """`train(estimator, steps, *overrides)` -> Run: one real training run on CPU."""

    def _train(estimator: str, steps: int = 2, *overrides: str) -> Run:
        run_dir = tmp_path_factory.mktemp(f"run_{estimator}")
        ray_dir = _ray_temp_dir()
        env = dict(os.environ)
        env.update(
            VERL_FILE_LOGGER_PATH=str(run_dir / "metrics.jsonl"),
            VERL_DSDR_RUN_INFO=str(run_dir / "run_info.json"),
            HF_HUB_OFFLINE="1",
            RAY_AUTH_MODE="disabled",
            RAY_USAGE_STATS_ENABLED="0",
        )
        command = [
            sys.executable, "-m", "verl_dsdr.main_ppo", "preset=cpu",
            f"hydra.run.dir={run_dir / 'hydra'}",
            f"+ray_kwargs.ray_init._temp_dir={ray_dir}",
            f"algorithm.adv_estimator={estimator}",
            f"actor_rollout_ref.model.path={assets.model_dir}",
            f"data.train_files={assets.train_parquet}",
            f"data.val_files={assets.val_parquet}",
            *OVERRIDES,
            f"trainer.total_training_steps={steps}",
            "data.seed=7",
            *overrides,
        ]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
        wall = time.perf_counter() - start
        leftovers = _stop_leftovers(ray_dir)
        log = proc.stdout + proc.stderr
        (run_dir / "train.log").write_text(log)
        assert not leftovers, f"Ray processes of the run were left behind: {leftovers}"
        metrics_path = run_dir / "metrics.jsonl"
        metrics = []
        if metrics_path.exists():
            metrics = [{"step": r["step"], **r["data"]} for r in map(json.loads, metrics_path.read_text().splitlines())]
        info_path = run_dir / "run_info.json"
        run_info = json.loads(info_path.read_text()) if info_path.exists() else {}
        return Run(proc.returncode, log, metrics, run_info, wall)

    return _train
