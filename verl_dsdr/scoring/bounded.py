"""Hard wall-clock limits for untrusted computations, usable from any thread or process.

Scoring runs inside verl's reward-loop workers (Ray actors calling our functions from an
executor thread), where ``signal.alarm`` is unavailable and a sympy computation stuck in C code
(``2^{10^{10^{10}}}``) cannot be interrupted from inside the process. So the work runs in a
persistent helper interpreter that is killed when it overruns and restarted for the next call.

Design:
- Each worker is a fresh interpreter started with ``subprocess`` (spawn semantics: nothing is
  forked from the caller, which has threads). Unlike ``multiprocessing`` spawn it does not
  re-import the caller's ``__main__`` and works from daemonic processes too.
- Caller and worker talk over a socket pair with pickled messages
  (``multiprocessing.connection.Connection``); functions must be picklable by reference
  (module-level functions).
- The limit covers one call's execution only. Starting a worker (interpreter + ``preload``
  imports) has its own ``startup_timeout``, so a restart never eats the next call's budget.
- A worker that overruns is killed (SIGKILL) and a replacement is started at once, so its imports
  overlap with whatever the caller does next.
- Workers exit when their parent dies (a watchdog thread polls the parent pid), ignore SIGINT
  (the parent owns shutdown) and optionally run under an address-space limit.
- ``close()`` (also run by ``atexit`` and garbage collection) kills and reaps every worker.
"""

from __future__ import annotations

import contextlib
import atexit
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Sequence

__all__ = [
    "Outcome",
    "BoundedRunner",
    "scoring_runner",
    "SCORING_PRELOAD",
]

# Code run by ``python -c`` in the worker: only stdlib until the parent's sys.path is installed.
_BOOTSTRAP = (
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "conn = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = conn.recv()\n"
    "from verl_dsdr.scoring.bounded import _serve\n"
    "_serve(conn, int(sys.argv[2]))\n"
)

_PARENT_POLL_S = 0.5


@dataclass(frozen=True)
class Outcome:
    """What happened to one bounded call.

    status: "ok" (value is the result), "timeout" (killed at the limit), "crashed" (the worker
    died or could not start), "error" (the function raised; detail has the exception),
    "starting" (the worker was still starting past the caller's ``wait_start``; nothing ran) or
    "closed" (the runner was closed).
    """

    status: str
    value: Any = None
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _apply_memory_limit(memory_limit_mb: int | None) -> None:
    if not memory_limit_mb:
        return
    import resource

    limit = int(memory_limit_mb) * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent_pid:
            os._exit(0)


def _serve(conn: Connection, parent_pid: int) -> None:
    """Worker main loop: set up, report ready, then run requests until the socket closes."""
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    preload, memory_limit_mb = conn.recv()
    _apply_memory_limit(memory_limit_mb)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional module must not kill the worker
            print(f"verl_dsdr bounded worker: could not preload {name}: {exc!r}", file=sys.stderr)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # unpicklable request (e.g. a module the worker cannot import)
            conn.send(("error", f"could not unpickle the request: {exc!r}"))
            continue
        try:
            reply = ("ok", fn(*args, **kwargs))
        except BaseException as exc:  # MemoryError, RecursionError, ... all become "error"
            reply = ("error", f"{type(exc).__name__}: {str(exc)[:500]}")
        try:
            conn.send(reply)
        except Exception as exc:  # unpicklable result
            conn.send(("error", f"could not pickle the result: {exc!r}"))


class _Worker:
    """One helper interpreter; owned by exactly one caller at a time (a pool slot)."""

    def __init__(self, preload: tuple[str, ...], memory_limit_mb: int | None) -> None:
        parent_sock, child_sock = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, str(child_sock.fileno()), str(os.getpid())],
                pass_fds=(child_sock.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.started_at = time.monotonic()
        self.ready = False
        self.conn.send(list(sys.path))
        self.conn.send((preload, memory_limit_mb))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float) -> bool:
        if self.ready:
            return True
        try:
            if not self.conn.poll(timeout):
                return False
            tag, _ = self.conn.recv()
        except (EOFError, OSError):
            return False
        self.ready = tag == "ready"
        return self.ready

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def _kill_all(slots: list, owner_pid: int) -> None:
    """Finaliser shared by close(), atexit and garbage collection; must not reference the runner.

    A forked copy of the owner (which inherits the finaliser) must not kill the owner's workers.
    """
    if os.getpid() != owner_pid:
        return
    for i, worker in enumerate(slots):
        if worker is not None:
            worker.kill()
            slots[i] = None


class BoundedRunner:
    """A small pool of persistent worker interpreters running picklable functions under a hard limit.

    ``call`` blocks the calling thread only: for at most the wait for a free worker, the worker's
    start-up (``startup_timeout``, only after a restart) and ``timeout``. Thread-safe.
    """

    def __init__(
        self,
        workers: int = 1,
        preload: Sequence[str] = (),
        memory_limit_mb: int | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"BoundedRunner: workers must be an integer >= 1, got {workers!r}")
        if startup_timeout <= 0:
            raise ValueError(f"BoundedRunner: startup_timeout must be > 0, got {startup_timeout!r}")
        if memory_limit_mb is not None and memory_limit_mb <= 0:
            raise ValueError(f"BoundedRunner: memory_limit_mb must be > 0 or None, got {memory_limit_mb!r}")
        self.workers = workers
        self.preload = tuple(preload)
        self.memory_limit_mb = memory_limit_mb
        self.startup_timeout = float(startup_timeout)
        self._closed = False
        self._init_state()

    def _init_state(self) -> None:
        self._owner_pid = os.getpid()
        self._life_lock = threading.Lock()
        self._slots: list[_Worker | None] = [None] * self.workers
        self._free: queue.LifoQueue[int] = queue.LifoQueue()
        for i in range(self.workers):
            self._free.put(i)
        self._stats_lock = threading.Lock()
        self.stats = {"calls": 0, "timeouts": 0, "crashes": 0, "errors": 0, "starts": 0}
        self._finalizer = weakref.finalize(self, _kill_all, self._slots, self._owner_pid)

    def _check_fork(self) -> None:
        # After os.fork() the child must not share the parent's sockets: start afresh there
        # (the parent's workers belong to the parent and are left alone).
        if os.getpid() != self._owner_pid:
            self._finalizer.detach()
            self._init_state()

    def _bump(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _start(self, index: int) -> _Worker:
        # Under the life lock so that close() cannot miss a worker started concurrently.
        with self._life_lock:
            if self._closed:
                raise OSError("the runner was closed")
            worker = _Worker(self.preload, self.memory_limit_mb)
            self._slots[index] = worker
        self._bump("starts")
        return worker

    def _replace(self, index: int) -> None:
        worker = self._slots[index]
        if worker is not None:
            worker.kill()
        self._slots[index] = None
        try:
            self._start(index)
        except OSError:
            self._slots[index] = None  # closed, or retried lazily by the next call

    def start(self) -> None:
        """Start every worker now and wait until all are ready (optional warm-up; no-op once closed)."""
        if self._closed:
            return
        self._check_fork()
        taken = [self._free.get() for _ in range(self.workers)]
        try:
            for i in taken:
                try:
                    worker = self._slots[i] or self._start(i)
                except OSError:  # closed meanwhile, or no process could be started
                    continue
                if not worker.wait_ready(self.startup_timeout):
                    self._replace(i)
        finally:
            for i in taken:
                self._free.put(i)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.pid for w in self._slots if w is not None and w.proc.poll() is None]

    def call_outcome(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float,
        wait_start: float | None = None,
    ) -> Outcome:
        """Run ``fn(*args, **kwargs)`` in a worker with a hard limit of ``timeout`` seconds.

        wait_start: at most this long to wait for a worker that is still starting (None: up to
        ``startup_timeout``); past it the call returns ``Outcome("starting")`` and the worker keeps
        starting for the next call.
        """
        if timeout <= 0:
            raise ValueError(f"BoundedRunner.call: timeout must be > 0 seconds, got {timeout!r}")
        if self._closed:
            return Outcome("closed", detail="runner is closed")
        self._check_fork()
        self._bump("calls")
        index = self._free.get()
        try:
            return self._call_in(index, fn, tuple(args), dict(kwargs or {}), float(timeout), wait_start)
        finally:
            self._free.put(index)

    def _call_in(
        self, index: int, fn, args, kwargs, timeout: float, wait_start: float | None, retry: bool = True
    ) -> Outcome:
        worker = self._slots[index]
        if worker is not None and worker.proc.poll() is not None:  # died while idle (OOM killer, ...)
            worker.kill()
            worker = self._slots[index] = None
        try:
            if worker is None:
                worker = self._start(index)
            startup_left = self.startup_timeout - (time.monotonic() - worker.started_at)
            wait = startup_left if wait_start is None else min(wait_start, startup_left)
            if not worker.wait_ready(max(wait, 0.0)):
                if worker.proc.poll() is None and time.monotonic() - worker.started_at < self.startup_timeout:
                    # still importing and the caller would not wait longer: keep it for the next call
                    return Outcome("starting", detail=f"worker not ready within {wait:g} s")
                self._bump("crashes")
                self._replace(index)
                return Outcome("crashed", detail=f"worker did not start within {self.startup_timeout:g} s")
        except OSError as exc:
            self._bump("crashes")
            self._slots[index] = None
            return Outcome("crashed", detail=f"could not start a worker: {exc!r}")
        t0 = time.perf_counter()
        try:
            worker.conn.send((fn, args, kwargs))
        except OSError as exc:  # the worker died before the request reached it: nothing ran
            self._bump("crashes")
            self._replace(index)
            if not retry:
                return Outcome("crashed", detail=f"worker died: {exc!r}")
            return self._call_in(index, fn, args, kwargs, timeout, wait_start, retry=False)
        try:
            if not worker.conn.poll(timeout):
                self._bump("timeouts")
                self._replace(index)
                return Outcome("timeout", detail=f"killed after {timeout:g} s", seconds=time.perf_counter() - t0)
            tag, value = worker.conn.recv()
        except (EOFError, OSError, ConnectionError) as exc:
            self._bump("crashes")
            self._replace(index)
            return Outcome("crashed", detail=f"worker died: {exc!r}", seconds=time.perf_counter() - t0)
        seconds = time.perf_counter() - t0
        if tag == "ok":
            return Outcome("ok", value=value, seconds=seconds)
        self._bump("errors")
        return Outcome("error", detail=str(value), seconds=seconds)

    def call(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float,
        fallback: Any = None,
    ) -> Any:
        """The function's result, or ``fallback`` on timeout, crash, exception or a closed runner."""
        outcome = self.call_outcome(fn, args, kwargs, timeout=timeout)
        return outcome.value if outcome.ok else fallback

    def close(self) -> None:
        """Kill and reap every worker; later calls return ``Outcome("closed")``."""
        with self._life_lock:
            self._closed = True
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "BoundedRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the runner the scoring functions share -------------------------------------------------

SCORING_PRELOAD: tuple[str, ...] = ("sympy", "latex2sympy2_extended", "math_verify")
"""Imported by the shared scoring worker before it reports ready (outside any call's limit)."""

_WORKERS_ENV = "VERL_DSDR_SCORING_WORKERS"
_MEMORY_ENV = "VERL_DSDR_SCORING_MEMORY_MB"
_DEFAULT_MEMORY_MB = 4096

_shared: BoundedRunner | None = None
_shared_lock = threading.Lock()


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer; set it to a whole number or unset it") from None
    return value if value > 0 else None


def scoring_runner() -> BoundedRunner:
    """The process-wide runner used by ``formulas`` (sympy mode) and ``correctness``.

    Workers: ``$VERL_DSDR_SCORING_WORKERS`` (default 1 per process; verl already runs several
    reward workers). Address-space limit per worker: ``$VERL_DSDR_SCORING_MEMORY_MB`` (default
    4096; 0 disables), so a computation that tries to build a gigantic integer fails with
    MemoryError instead of exhausting the machine. A closed shared runner is replaced.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            workers = _env_int(_WORKERS_ENV, 1) or 1
            memory = _env_int(_MEMORY_ENV, _DEFAULT_MEMORY_MB)
            _shared = BoundedRunner(workers=workers, preload=SCORING_PRELOAD, memory_limit_mb=memory)
        return _shared


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


atexit.register(_close_shared)
