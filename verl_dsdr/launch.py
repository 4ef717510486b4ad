"""Launch one ``python -m verl_dsdr.main_ppo`` run as a subprocess and collect what it logged.

The one launcher behind the integration tests, the whole-step benchmark and the toy
reproduction. Each run gets its own run folder (``train.log``, file-logger ``metrics.jsonl``,
``run_info.json``) and its own short Ray session folder. Every process of the run carries a
token in its environment (``VERL_DSDR_RUN_TOKEN``); afterwards exactly the processes with that
token or naming that session folder are stopped (SIGTERM, then SIGKILL), never anything by a
broad name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from verl_dsdr.utils.tracking import wandb_mode_default

REPO = Path(__file__).resolve().parents[1]
CPU_TINY_OVERRIDES = REPO / "scripts" / "lib" / "cpu_tiny_overrides.txt"
MARKER_ENV = "VERL_DSDR_RUN_TOKEN"


@dataclass
class RunResult:
    returncode: int
    run_dir: Path
    log: str
    metrics: list[dict] = field(default_factory=list)
    run_info: dict = field(default_factory=dict)
    wall_s: float = 0.0
    leftovers: list[int] = field(default_factory=list)
    peak_rss_gb: float = 0.0  # peak memory of the run's process tree (PSS: shared pages split, see _tree_memory)
    timed_out: bool = False
    token: str = ""
    ray_dir: str = ""

    def series(self, key: str) -> list[float]:
        """Values of ``key`` over the logged steps, in order."""
        return [float(m[key]) for m in self.metrics if key in m]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.splitlines()[-lines:])


def cpu_tiny_overrides() -> list[str]:
    """The small-batch settings the quickstart and tests use with ``preset=cpu``."""
    return CPU_TINY_OVERRIDES.read_text().split()


def embedded_cpu_run(assets, estimator: str, steps: int, seed: int = 7) -> list[str]:
    """Overrides of a small ``preset=cpu`` run on the embedded assets (``verl_dsdr.assets.build.AssetPaths``)."""
    return [
        "preset=cpu",
        f"algorithm.adv_estimator={estimator}",
        f"actor_rollout_ref.model.path={assets.model_dir}",
        f"data.train_files={assets.train_parquet}",
        f"data.val_files={assets.val_parquet}",
        *cpu_tiny_overrides(),
        f"trainer.total_training_steps={steps}",
        f"data.seed={seed}",
    ]


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{"step": r["step"], **r["data"]} for r in rows]


def main_ppo_command(overrides: Sequence[str], run_dir: Path, ray_dir: str, python: str = sys.executable) -> list[str]:
    """The command line of one run: hydra's output and Ray's session folder are the run's own."""
    return [
        python, "-m", "verl_dsdr.main_ppo",
        f"hydra.run.dir={Path(run_dir) / 'hydra'}",
        f"+ray_kwargs.ray_init._temp_dir={ray_dir}",
        *overrides,
    ]


def own_processes(token: str, ray_dir: str) -> list[int]:
    """PIDs of a run's processes: ``token`` in their environment or ``ray_dir`` on their command line."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] == os.getpid():
            continue
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if (ray_dir and ray_dir in cmdline) or (token and proc.environ().get(MARKER_ENV) == token):
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_own_processes(token: str, ray_dir: str, grace_s: float = 3.0) -> list[int]:
    """SIGTERM the run's processes, SIGKILL what is left after ``grace_s``; return the PIDs found."""
    found = own_processes(token, ray_dir)
    pids = list(found)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while sig == signal.SIGTERM and time.monotonic() < deadline and own_processes(token, ray_dir):
            time.sleep(0.2)
        pids = own_processes(token, ray_dir)
        if not pids:
            break
    return found


def _tree_memory(proc) -> int:
    """Memory of a process and all its descendants (Ray's raylet, workers, actors).

    Proportional set size where the OS reports it (each shared page split among the processes
    mapping it, so the torch libraries every Ray worker maps count once); resident size otherwise.
    """
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            info = p.memory_full_info() if hasattr(p, "memory_full_info") else p.memory_info()
            total += getattr(info, "pss", info.rss)
    return total


def _wait_sampling_memory(proc: subprocess.Popen, timeout_s: float, every_s: float = 1.0) -> tuple[int, bool]:
    """Wait for ``proc`` (killed after ``timeout_s``) while sampling its tree's memory: (peak, timed_out)."""
    import psutil

    root, peak, deadline = psutil.Process(proc.pid), 0, time.monotonic() + timeout_s
    timed_out = False
    while proc.poll() is None:
        try:
            peak = max(peak, _tree_memory(root))
        except psutil.NoSuchProcess:
            break
        if time.monotonic() > deadline:
            proc.kill()
            timed_out = True
            break
        time.sleep(every_s)
    proc.wait()
    return peak, timed_out


def run_training(
    overrides: Sequence[str],
    run_dir: str | Path,
    timeout_s: float = 1800,
    extra_env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> RunResult:
    """Run ``python -m verl_dsdr.main_ppo <overrides>`` with its logs in ``run_dir``; always cleans up."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Ray's unix socket paths must stay short, so the session folder lives under /tmp.
    ray_dir = tempfile.mkdtemp(prefix="vdsdr_ray_", dir="/tmp")
    token = Path(ray_dir).name
    env = dict(os.environ)
    env.update(
        {
            MARKER_ENV: token,
            "VERL_FILE_LOGGER_PATH": str(run_dir / "metrics.jsonl"),
            "VERL_DSDR_RUN_INFO": str(run_dir / "run_info.json"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "RAY_AUTH_MODE": "disabled",
            "RAY_USAGE_STATS_ENABLED": "0",
            "TOKENIZERS_PARALLELISM": "false",
            **(extra_env or {}),
        }
    )
    wandb_mode = wandb_mode_default(overrides, env)  # a WANDB_MODE the user set, or wandb asked for, is kept
    if wandb_mode is not None:
        env["WANDB_MODE"] = wandb_mode
    command = main_ppo_command(overrides, run_dir, ray_dir, python)
    (run_dir / "command.json").write_text(json.dumps(command, indent=1))
    start = time.perf_counter()
    log_path = run_dir / "train.log"
    try:
        with open(log_path, "w") as log_file:
            proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            peak, timed_out = _wait_sampling_memory(proc, timeout_s)
    finally:
        leftovers = stop_own_processes(token, ray_dir)
        shutil.rmtree(ray_dir, ignore_errors=True)
    wall = time.perf_counter() - start
    info_path = run_dir / "run_info.json"
    return RunResult(
        returncode=124 if timed_out else proc.returncode,
        run_dir=run_dir,
        log=log_path.read_text(errors="replace"),
        metrics=read_metrics(run_dir / "metrics.jsonl"),
        run_info=json.loads(info_path.read_text()) if info_path.exists() else {},
        wall_s=wall,
        leftovers=leftovers,
        peak_rss_gb=peak / 2**30,
        timed_out=timed_out,
        token=token,
        ray_dir=ray_dir,
    )
