"""Find and stop exactly the processes of one run (or one local cluster), never anything by name.

A run's processes are recognised by identity: the token every one of them inherits in
``VERL_DSDR_RUN_TOKEN``, the run's own folder on their command line or among their open files
(Ray's logs live there), and every descendant of those. Ray renames its agents and workers
(``ray::DashboardAgent``, ``ray::WorkerDict``) over their command line and, for some, their
environment: they are found as children of the raylet that started them, or, once a killed
raylet left them orphaned, by the log files they keep open in the run's folder. :func:`stop_own_processes` is the one clean-up of the launcher
(:mod:`verl_dsdr.launch`) and of the local cluster (:mod:`verl_dsdr.cpu.local_cluster`).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

__all__ = ["MARKER_ENV", "own_processes", "stop_own_processes", "stop_processes"]

MARKER_ENV = "VERL_DSDR_RUN_TOKEN"


def _holds_file_in(proc: psutil.Process, folder: str) -> bool:
    prefix = folder.rstrip("/") + "/"
    return any(f.path.startswith(prefix) for f in proc.open_files())


def own_processes(token: str, folder: str) -> list[int]:
    """PIDs of a run's processes: ``token`` in their environment, ``folder`` on their command line
    or holding a file open in it, and all their descendants; never this process."""
    import psutil

    me = os.getpid()
    found: set[int] = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.info["pid"] == me:
            continue
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if (
                (folder and folder in cmdline)
                or (token and proc.environ().get(MARKER_ENV) == token)
                or (folder and _holds_file_in(proc, folder))
            ):
                found.add(proc.info["pid"])
                found.update(child.pid for child in proc.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    found.discard(me)
    return sorted(found)


def stop_processes(pids: list[int], grace_s: float = 3.0) -> None:
    """SIGTERM ``pids``, then SIGKILL what is still alive after ``grace_s`` (Ray's agents may ignore
    SIGTERM once their raylet is gone)."""
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            procs.append(psutil.Process(pid))
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace_s)


def stop_own_processes(token: str, folder: str, grace_s: float = 3.0, rounds: int = 3) -> list[int]:
    """Stop every process of the run (:func:`own_processes`) and return the PIDs found.

    Looks again after each round, because a stopping process can still start one (a raylet
    replacing a worker), up to ``rounds`` times.
    """
    stopped: list[int] = []
    for _ in range(rounds):
        pids = [pid for pid in own_processes(token, folder) if pid not in stopped]
        if not pids:
            break
        stopped.extend(pids)
        stop_processes(pids, grace_s)
        time.sleep(0.1)
    return stopped
