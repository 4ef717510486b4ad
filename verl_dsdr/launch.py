"""Launch one ``python -m verl_dsdr.main_ppo`` run as a subprocess and collect what it logged.

Used by the integration tests, the whole-step benchmark and the toy reproduction: each run
gets its own run folder (file-logger metrics, run info, log) and its own short Ray session
folder; afterwards only the processes of *that* session are stopped (matched by the folder),
never anything by a broad name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
CPU_TINY_OVERRIDES = REPO / "scripts" / "lib" / "cpu_tiny_overrides.txt"


@dataclass
class RunResult:
    returncode: int
    run_dir: Path
    log: str
    metrics: list[dict] = field(default_factory=list)
    run_info: dict = field(default_factory=dict)
    wall_s: float = 0.0
    leftovers: list[int] = field(default_factory=list)
    peak_rss_gb: float = 0.0  # summed over the run's process tree (shared pages counted once per process)

    def series(self, key: str) -> list[float]:
        """Values of ``key`` over the logged training steps, in order."""
        return [float(m[key]) for m in self.metrics if key in m]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.splitlines()[-lines:])


def cpu_tiny_overrides() -> list[str]:
    """The small-batch settings the quickstart and tests use with ``preset=cpu``."""
    return CPU_TINY_OVERRIDES.read_text().split()


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{"step": r["step"], **r["data"]} for r in rows]


def stop_session_processes(ray_dir: str) -> list[int]:
    """Kill the processes whose command line names this run's Ray session folder; return their pids."""
    found = subprocess.run(["pgrep", "-f", ray_dir], capture_output=True, text=True).stdout.split()
    pids = [int(p) for p in found if int(p) != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return pids


def run_training(
    overrides: Sequence[str],
    run_dir: str | Path,
    timeout_s: float = 1800,
    extra_env: dict[str, str] | None = None,
) -> RunResult:
    """Run ``python -m verl_dsdr.main_ppo <overrides>`` with its logs in ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Ray's unix socket paths must stay short, so the session folder lives under /tmp.
    ray_dir = tempfile.mkdtemp(prefix="vdsdr_ray_", dir="/tmp")
    env = dict(os.environ)
    env.update(
        VERL_FILE_LOGGER_PATH=str(run_dir / "metrics.jsonl"),
        VERL_DSDR_RUN_INFO=str(run_dir / "run_info.json"),
        HF_HUB_OFFLINE="1",
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        **(extra_env or {}),
    )
    command = [
        sys.executable, "-m", "verl_dsdr.main_ppo",
        f"hydra.run.dir={run_dir / 'hydra'}",
        f"+ray_kwargs.ray_init._temp_dir={ray_dir}",
        *overrides,
    ]
    start = time.perf_counter()
    log_path = run_dir / "train.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT, text=True)
        peak = _wait_sampling_memory(proc, timeout_s)
    returncode = proc.returncode if proc.returncode is not None else 124
    wall = time.perf_counter() - start
    log = log_path.read_text(errors="replace")
    leftovers = stop_session_processes(ray_dir)
    shutil.rmtree(ray_dir, ignore_errors=True)
    info_path = run_dir / "run_info.json"
    return RunResult(
        returncode=returncode,
        run_dir=run_dir,
        log=log,
        metrics=read_metrics(run_dir / "metrics.jsonl"),
        run_info=json.loads(info_path.read_text()) if info_path.exists() else {},
        wall_s=wall,
        leftovers=leftovers,
        peak_rss_gb=peak / 2**30,
    )


def _tree_rss(proc: "psutil.Process") -> int:
    """Resident memory of a process and all its descendants (Ray's raylet, workers, actors)."""
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def _wait_sampling_memory(proc: subprocess.Popen, timeout_s: float, every_s: float = 1.0) -> int:
    """Wait for ``proc`` (killing it after ``timeout_s``), sampling the tree's summed RSS; return the peak."""
    import psutil

    root, peak, deadline = psutil.Process(proc.pid), 0, time.monotonic() + timeout_s
    while proc.poll() is None:
        try:
            peak = max(peak, _tree_rss(root))
        except psutil.NoSuchProcess:
            break
        if time.monotonic() > deadline:
            proc.kill()
            break
        time.sleep(every_s)
    proc.wait()
    return peak
