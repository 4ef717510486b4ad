"""Launch one ``python -m verl_dsdr.main_ppo`` run as a subprocess and collect what it logged.

The one launcher behind the quickstart, the integration tests, the whole-step benchmark and the
toy reproduction. Each run gets its own run folder (``train.log``, file-logger ``metrics.jsonl``,
``run_info.json``) and its own short Ray session folder. Every process of the run carries a
token in its environment (``VERL_DSDR_RUN_TOKEN``); afterwards exactly the processes with that
token or naming that session folder (on their command line or among their open files), and their
descendants, are stopped (SIGTERM, then SIGKILL; :mod:`verl_dsdr.utils.processes`), never anything
by a broad name, and the session folder is removed.

Stopping a run: the run starts in a session of its own, so a Ctrl-C in the terminal reaches the
launcher alone, which then stops the run's processes itself. The first SIGINT or SIGTERM
(:class:`RunInterrupted`) ends the run within seconds; later ones are ignored until the clean-up
is done, so a second Ctrl-C cannot leave processes behind. The command line prints one line saying
so and exits 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from verl_dsdr.utils.console import BriefConsole, Timeline
from verl_dsdr.utils.processes import MARKER_ENV, own_processes, stop_own_processes
from verl_dsdr.utils.tracking import wandb_mode_default

if TYPE_CHECKING:
    from types import FrameType

    import psutil

    from verl_dsdr.assets.build import AssetPaths

    # What signal.signal takes and returns (typeshed's private signal._HANDLER).
    SignalHandler: TypeAlias = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

__all__ = [
    "CPU_TINY_OVERRIDES",
    "MARKER_ENV",
    "RunInterrupted",
    "RunResult",
    "embedded_cpu_run",
    "main_ppo_command",
    "own_processes",
    "run_training",
    "stop_own_processes",
]

# Sizes of the embedded CPU run (tiny model, short arithmetic prompts): the quickstart, the tests,
# the benchmarks and the toy all start from these, with ``preset=cpu``.
CPU_TINY_OVERRIDES = (
    "data.train_batch_size=8",
    "data.max_prompt_length=64",
    "data.max_response_length=48",
    "data.shuffle=true",
    "data.filter_overlong_prompts=false",
    "actor_rollout_ref.rollout.n=4",
    "actor_rollout_ref.rollout.temperature=1.0",
    "actor_rollout_ref.rollout.prompt_length=64",
    "actor_rollout_ref.rollout.response_length=48",
    "actor_rollout_ref.rollout.max_model_len=128",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=16",
    "actor_rollout_ref.actor.optim.lr=2e-5",
    "actor_rollout_ref.actor.use_kl_loss=false",
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=16",
    "algorithm.use_kl_in_reward=false",
    "trainer.project_name=verl_dsdr_cpu",  # verl's file logger default is ./PROJECT/EXPERIMENT.jsonl: not the package folder
)


@dataclass
class RunResult:
    returncode: int
    run_dir: Path
    log: str
    metrics: list[dict] = field(default_factory=list)
    run_info: dict = field(default_factory=dict)
    wall_s: float = 0.0
    leftovers: list[int] = field(default_factory=list)
    peak_rss_gb: float = 0.0  # peak memory of the run's process tree (PSS: shared pages split, see _tree_sample)
    memory_by_kind_mb: dict[str, int] = field(default_factory=dict)  # what each kind of process held at that peak
    listening: list[tuple[str, int, str]] = field(default_factory=list)  # (address, port, kind) the run listened on
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
    return list(CPU_TINY_OVERRIDES)


def embedded_cpu_run(assets: AssetPaths, estimator: str, steps: int, seed: int = 7) -> list[str]:
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
    """The run's file-logger rows (:func:`verl_dsdr.summary.read_metrics`); none when it logged nothing."""
    from verl_dsdr.summary import read_metrics as read_log

    return read_log(path) if Path(path).is_file() else []


def joins_cluster(overrides: Sequence[str]) -> bool:
    """Whether the overrides point the run at a running Ray cluster (``ray_kwargs.ray_init.address``)."""
    return any(str(o).lstrip("+").partition("=")[0] == "ray_kwargs.ray_init.address" for o in overrides)


def main_ppo_command(overrides: Sequence[str], run_dir: Path, ray_dir: str, python: str = sys.executable) -> list[str]:
    """The command line of one run: hydra's output and Ray's session folder are the run's own
    (a run joining a cluster uses the cluster's session: Ray refuses another folder with an address)."""
    session = [] if joins_cluster(overrides) else [f"+ray_kwargs.ray_init._temp_dir={ray_dir}"]
    return [python, "-m", "verl_dsdr.main_ppo", f"hydra.run.dir={Path(run_dir) / 'hydra'}", *session, *overrides]


def process_kind(cmdline: Sequence[str]) -> str:
    """A short name for what a process of the run is: Ray actors by class, Ray's own by program."""
    if not cmdline:
        return "?"
    first = cmdline[0]
    if first.startswith("ray::"):
        return first[5:].split(".")[0].split(" ")[0] or "IDLE"  # ray::TaskRunner.run -> TaskRunner
    joined = " ".join(cmdline)
    for marker, kind in (
        ("verl_dsdr.main_ppo", "driver (main_ppo)"),
        ("verl_dsdr.cpu.lean_driver", "driver (main_ppo)"),
        ("gcs_server", "ray: gcs_server"),
        ("raylet/raylet", "ray: raylet"),
        ("dashboard/agent.py", "ray: dashboard agent"),
        ("runtime_env/agent", "ray: runtime env agent"),
        ("dashboard/dashboard.py", "ray: dashboard"),
        ("autoscaler/_private/monitor.py", "ray: monitor"),
        ("log_monitor.py", "ray: log monitor"),
        ("verl_dsdr.scoring.bounded", "scoring worker"),
        ("multiprocessing.connection", "scoring worker"),
    ):
        if marker in joined:
            return kind
    return Path(first).name


def _tree_sample(proc: psutil.Process) -> tuple[int, dict[str, int], set[tuple[str, int, str]]]:
    """Memory of a process and all its descendants (Ray's raylet, workers, actors), in total and by
    kind, and the TCP/UDP sockets they listen on as ``(address, port, kind)``.

    Proportional set size where the OS reports it (each shared page split among the processes
    mapping it, so the torch libraries every Ray worker maps count once); resident size otherwise.
    """
    import psutil

    total = 0
    kinds: dict[str, int] = {}
    listening: set[tuple[str, int, str]] = set()
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            info = p.memory_full_info() if hasattr(p, "memory_full_info") else p.memory_info()
            size = getattr(info, "pss", info.rss)
            kind = process_kind(p.cmdline())
            total += size
            kinds[kind] = kinds.get(kind, 0) + size
            for conn in p.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN or (not conn.raddr and conn.type == 2):  # TCP listen, bound UDP
                    listening.add((conn.laddr.ip, conn.laddr.port, kind))
    return total, kinds, listening


@dataclass
class MemoryPeak:
    """The largest summed memory seen over a run, with what each kind of process held at that moment."""

    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    processes: int = 0

    def update(self, total: int, by_kind: dict[str, int]) -> None:
        if total > self.total:
            self.total, self.by_kind = total, dict(by_kind)

    def as_json(self) -> dict:
        kinds = sorted(self.by_kind.items(), key=lambda kv: -kv[1])
        return {
            "peak_pss_gb": round(self.total / 2**30, 3),
            "by_kind_mb": {k: round(v / 2**20) for k, v in kinds},
            "method": "summed proportional set size (PSS) of the run's process tree, sampled every second",
        }


def _wait_sampling(proc: subprocess.Popen, timeout_s: float, every_s: float = 1.0) -> tuple[MemoryPeak, set, bool]:
    """Wait for ``proc`` (killed after ``timeout_s``) while sampling its tree: (memory peak, listening sockets, timed_out)."""
    import psutil

    root, peak, deadline = psutil.Process(proc.pid), MemoryPeak(), time.monotonic() + timeout_s
    listening: set[tuple[str, int, str]] = set()
    timed_out = False
    while proc.poll() is None:
        try:
            total, by_kind, sockets = _tree_sample(root)
        except psutil.NoSuchProcess:
            break
        peak.update(total, by_kind)
        listening |= sockets
        if time.monotonic() > deadline:
            proc.kill()
            timed_out = True
            break
        time.sleep(every_s)
    proc.wait()
    return peak, listening, timed_out


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the launcher; the run's processes were stopped and its Ray folder removed."""

    def __init__(self, signum: int, run_dir: Path | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.run_dir = signum, run_dir

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process ended by the signal: 130, 143

    def message(self) -> str:
        logs = f"; logs: {self.run_dir / 'train.log'}" if self.run_dir else ""
        return (
            f"[verl-dsdr] interrupted by {signal.Signals(self.signum).name}: the run's processes are stopped "
            f"and its Ray folder removed{logs}"
        )


class _StopSignals:
    """While a run is going: the first SIGINT or SIGTERM raises :class:`RunInterrupted` (once);
    any signal during the clean-up, or after the first, is only noted, so the clean-up always finishes.

    Python runs signal handlers in the main thread only; a run launched from another thread
    (tests running two at once) leaves signals to that program.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.cleaning = False
        self.active = threading.current_thread() is threading.main_thread()
        self.previous: dict[int, SignalHandler] = {}

    def __enter__(self) -> _StopSignals:
        if self.active:
            self.previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if first and not self.cleaning:
            raise RunInterrupted(signum)


def _parent_death_signal() -> Callable[[], Any] | None:
    """A pre-exec function for the run's first process: SIGTERM it when the launcher dies (even by
    SIGKILL), so no run trains on without its launcher; its Ray processes share its fate (Ray's own
    setting). ``None`` where Linux's ``prctl`` is not available, or other threads run (a pre-exec
    function is unsafe then)."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def _copy_lines(
    source: IO[bytes],
    log_file: IO[bytes],
    console: BriefConsole | None,
    show: threading.Event,
    timeline: Timeline,
    started: float,
) -> None:
    """Copy a child's output line by line to the run's log file and, while ``show`` is set, to this
    process's stdout: through ``console``, or every line when it is ``None``; note milestones in ``timeline``."""
    for line in iter(source.readline, b""):
        log_file.write(line)
        log_file.flush()
        text = line.decode(errors="replace")
        timeline.feed(text, time.perf_counter() - started)
        if not show.is_set():
            continue
        shown = [line] if console is None else [f"{shown}\n".encode() for shown in console.feed(text)]
        for out in shown:
            sys.stdout.buffer.write(out)
        if shown:
            sys.stdout.buffer.flush()


def run_training(
    overrides: Sequence[str],
    run_dir: str | Path,
    timeout_s: float = 1800,
    extra_env: dict[str, str] | None = None,
    python: str = sys.executable,
    echo: bool | str = False,
) -> RunResult:
    """Run ``python -m verl_dsdr.main_ppo <overrides>`` with its logs in ``run_dir``; always cleans up.

    ``echo`` also streams the run's output to this process's stdout (the command-line use):
    ``"brief"`` through :class:`~verl_dsdr.utils.console.BriefConsole`, ``True`` or ``"full"`` every line.
    The run's peak memory, in total and by kind of process, is written to ``run_dir/memory.json``.
    Raises :class:`RunInterrupted` on SIGINT or SIGTERM (in the main thread), after the clean-up.
    """
    from verl_dsdr.cpu.local_ray import new_session_dir

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ray_dir = new_session_dir()
    token = Path(ray_dir).name
    env = dict(os.environ)
    env.update(
        {
            MARKER_ENV: token,
            "VERL_FILE_LOGGER_PATH": str(run_dir / "metrics.jsonl"),
            "VERL_DSDR_RUN_INFO": str(run_dir / "run_info.json"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
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
    console = BriefConsole() if echo == "brief" else None
    show = threading.Event()
    if echo:
        show.set()
    timeline = Timeline()
    proc, copier, leftovers = None, None, []
    with _StopSignals() as signals, open(log_path, "wb") as log_file:
        try:
            proc = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches the launcher, which stops the run
                preexec_fn=_parent_death_signal(),
            )
            copier = threading.Thread(
                target=_copy_lines, args=(proc.stdout, log_file, console, show, timeline, start), daemon=True
            )
            copier.start()
            peak, listening, timed_out = _wait_sampling(proc, timeout_s)
            timeline.mark("trainer exited", time.perf_counter() - start)
        except RunInterrupted as interrupted:
            interrupted.run_dir = run_dir
            show.clear()  # what the stopping processes print goes to train.log only
            raise
        finally:
            signals.cleaning = True
            stopping = time.perf_counter()
            # an interrupted run is being thrown away: 1 s for its processes to end on SIGTERM, then SIGKILL
            leftovers = stop_own_processes(token, ray_dir, grace_s=1.0 if signals.signum else 3.0)
            shutil.rmtree(ray_dir, ignore_errors=True)
            if proc is not None:
                proc.wait()
            stopped = time.perf_counter()
            timeline.mark("processes stopped", stopped - start)
            if copier is not None:
                copier.join(timeout=10)
            if leftovers:
                log_file.write(
                    f"[verl-dsdr] stopped the run's leftover processes in {stopped - stopping:.1f} s "
                    f"(output closed {time.perf_counter() - stopped:.1f} s later): {leftovers}\n".encode()
                )
        if signals.signum is not None:  # a signal came while the run was being cleaned up after it ended
            raise RunInterrupted(signals.signum, run_dir)
    wall = time.perf_counter() - start
    (run_dir / "memory.json").write_text(json.dumps(peak.as_json(), indent=1))
    (run_dir / "timeline.json").write_text(json.dumps(timeline.as_json(), indent=1))
    info_path = run_dir / "run_info.json"
    return RunResult(
        returncode=124 if timed_out else proc.returncode,
        run_dir=run_dir,
        log=log_path.read_text(errors="replace"),
        metrics=read_metrics(run_dir / "metrics.jsonl"),
        run_info=json.loads(info_path.read_text()) if info_path.exists() else {},
        wall_s=wall,
        leftovers=leftovers,
        peak_rss_gb=peak.total / 2**30,
        memory_by_kind_mb={k: round(v / 2**20) for k, v in peak.by_kind.items()},
        listening=sorted(listening),
        timed_out=timed_out,
        token=token,
        ray_dir=ray_dir,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m verl_dsdr.launch --run-dir DIR [--timeout S] [--tiny-overrides] [--console brief|full] -- OVERRIDES...``

    One ``verl_dsdr.main_ppo`` run with its own Ray folder, its output in ``DIR/train.log`` and on the
    console (``brief``: the config check, start-up milestones, one line per step and every warning a
    person can act on; ``full``: every line), its peak memory in ``DIR/memory.json``, and exactly its
    own processes stopped afterwards, or on Ctrl-C / SIGTERM (exit 130 / 143).
    ``--print-tiny-overrides`` prints the embedded CPU run's sizes and exits.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m verl_dsdr.launch", description=(main.__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--run-dir", help="folder for train.log, metrics.jsonl, memory.json, run_info.json")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before the run is stopped (default 3600)")
    parser.add_argument("--tiny-overrides", action="store_true", help="put the embedded CPU run's sizes first")
    parser.add_argument(
        "--console",
        choices=("brief", "full"),
        default=os.environ.get("VERL_DSDR_CONSOLE", "brief"),
        help="what the console shows (default brief, or $VERL_DSDR_CONSOLE); train.log always has every line",
    )
    parser.add_argument(
        "--print-tiny-overrides", action="store_true", help="print the embedded CPU run's sizes and exit"
    )
    parser.add_argument("overrides", nargs="*", help="verl / verl-dsdr overrides, after --")
    args = parser.parse_args(argv)
    if args.print_tiny_overrides:
        print(" ".join(CPU_TINY_OVERRIDES))
        return 0
    if not args.run_dir:
        parser.error("--run-dir is required to train")
    overrides = [*(CPU_TINY_OVERRIDES if args.tiny_overrides else ()), *args.overrides]
    try:
        run = run_training(overrides, args.run_dir, timeout_s=args.timeout, echo=args.console)
    except RunInterrupted as interrupted:
        for sig in _StopSignals.SIGNALS:  # the run is stopped: a further Ctrl-C must not print a traceback
            signal.signal(sig, signal.SIG_IGN)
        print(interrupted.message(), flush=True)
        return interrupted.exit_code
    if run.timed_out:
        print(f"[verl-dsdr] the run passed --timeout {args.timeout:.0f} s and was stopped", flush=True)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
