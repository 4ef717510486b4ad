"""Hard wall-clock limits for untrusted computations, usable from any thread or process.

Scoring runs inside verl's reward-loop workers (Ray actors calling our functions from executor
threads), where ``signal.alarm`` is unavailable and a sympy computation stuck in C code
(``2^{10^{10^{10}}}``) cannot be interrupted from inside the process. So the work runs in a pool
of persistent helper interpreters; one that overruns is killed and replaced.

Design:
- Each worker is a fresh interpreter started with ``subprocess`` (spawn semantics: nothing is
  forked from the caller, which has threads). Unlike ``multiprocessing`` spawn it does not
  re-import the caller's ``__main__`` and works from daemonic processes too.
- Caller and worker talk over a socket pair with pickled messages
  (``multiprocessing.connection.Connection``); functions must be picklable by reference
  (module-level functions).
- A worker is **warm before it takes a call**: it imports ``preload`` and runs ``warmup`` (a real
  call of the work it will do) before it reports ready; a background thread waits for that, so
  no call's limit ever includes a start-up.
- The pool grows on demand up to ``workers``: a caller that finds no idle worker starts one
  (while fewer are starting than callers wait) and takes whichever becomes free first. A killed
  worker is replaced at once, in the background.
- Waits are bounded: ``wait`` bounds the time a caller waits while every warm worker is busy,
  ``wait_start`` the time it waits while no worker is warm yet (start-ups, reported separately
  in ``Outcome.startup_wait`` so that callers do not charge it to their own budget).
- Workers exit when their parent dies (a watchdog thread polls the parent pid), ignore SIGINT
  (the parent owns shutdown) and optionally run under an address-space limit.
- ``close()`` (also run by ``atexit`` and garbage collection) kills and reaps every worker.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from verl_dsdr.scoring.pool_config import ScoringPool, scoring_pool

__all__ = [
    "Outcome",
    "BoundedRunner",
    "scoring_runner",
    "configure_scoring",
    "SCORING_PRELOAD",
    "SCORING_WARMUP",
    "MAX_START_FAILURES",
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
_READY_POLL_S = 0.25
MAX_START_FAILURES = 3
"""After this many start-ups in a row fail, calls return "crashed" at once (``start()`` retries)."""

_STARTING, _IDLE, _BUSY = "starting", "idle", "busy"


@dataclass(frozen=True)
class Outcome:
    """What happened to one bounded call.

    status: "ok" (value is the result), "timeout" (killed at the limit), "crashed" (the worker
    died or could not start), "error" (the function raised; detail has the exception),
    "busy" (every warm worker stayed busy past the caller's ``wait``; nothing ran), "starting"
    (no worker was warm within the caller's ``wait_start``; nothing ran) or "closed".
    seconds: execution time. startup_wait: time spent waiting while no worker was warm (worker
    start-ups, never charged to the call). waited: time spent waiting for a busy worker.
    """

    status: str
    value: Any = None
    detail: str = ""
    seconds: float = 0.0
    startup_wait: float = 0.0
    waited: float = 0.0

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


def _run_warmup(spec: str | None) -> None:
    """Call ``module:function`` once; a failure is printed, the worker still serves."""
    if not spec:
        return
    import importlib

    module, _, name = spec.partition(":")
    try:
        getattr(importlib.import_module(module), name)()
    except Exception as exc:
        print(f"verl_dsdr bounded worker: warm-up {spec} failed: {exc!r}", file=sys.stderr)


def _serve(conn: Connection, parent_pid: int) -> None:
    """Worker main loop: set up, warm up, report ready, then run requests until the socket closes."""
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    preload, memory_limit_mb, warmup = conn.recv()
    _apply_memory_limit(memory_limit_mb)
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional module must not kill the worker
            print(f"verl_dsdr bounded worker: could not preload {name}: {exc!r}", file=sys.stderr)
    _run_warmup(warmup)
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
    """One helper interpreter; a pool slot; ``state`` is changed under the runner's lock only."""

    def __init__(self, preload: tuple[str, ...], memory_limit_mb: int | None, warmup: str | None) -> None:
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
        self.state = _STARTING
        self.conn.send(list(sys.path))
        self.conn.send((preload, memory_limit_mb, warmup))

    @property
    def pid(self) -> int:
        return self.proc.pid

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
            slots[i] = None
            worker.kill()


class BoundedRunner:
    """A pool of up to ``workers`` warm helper interpreters running picklable functions under a hard limit.

    ``call_outcome`` blocks the calling thread only: for at most ``wait`` while every warm worker
    is busy, ``wait_start`` while none is warm yet, and ``timeout`` of execution. Thread-safe.
    warmup: ``"module:function"`` each worker calls (no arguments) before it reports ready.
    """

    def __init__(
        self,
        workers: int = 1,
        preload: Sequence[str] = (),
        memory_limit_mb: int | None = None,
        startup_timeout: float = 60.0,
        warmup: str | None = None,
    ) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"BoundedRunner: workers must be an integer >= 1, got {workers!r}")
        if startup_timeout <= 0:
            raise ValueError(f"BoundedRunner: startup_timeout must be > 0, got {startup_timeout!r}")
        if memory_limit_mb is not None and memory_limit_mb <= 0:
            raise ValueError(f"BoundedRunner: memory_limit_mb must be > 0 or None, got {memory_limit_mb!r}")
        if warmup is not None and ":" not in warmup:
            raise ValueError(f"BoundedRunner: warmup must be 'module:function', got {warmup!r}")
        self.workers = workers
        self.preload = tuple(preload)
        self.memory_limit_mb = memory_limit_mb
        self.startup_timeout = float(startup_timeout)
        self.warmup = warmup
        self._closed = False
        self._init_state()

    def _init_state(self) -> None:
        self._owner_pid = os.getpid()
        self._cond = threading.Condition()
        self._slots: list[_Worker | None] = [None] * self.workers
        self._idle: list[int] = []  # a stack: the most recently used worker is reused first
        self._waiting = 0
        self._start_failures = 0
        self.stats = {"calls": 0, "timeouts": 0, "crashes": 0, "errors": 0, "starts": 0, "ready": 0, "busy": 0}
        self._finalizer = weakref.finalize(self, _kill_all, self._slots, self._owner_pid)

    def _check_fork(self) -> None:
        # After os.fork() the child must not share the parent's sockets: start afresh there
        # (the parent's workers belong to the parent and are left alone).
        if os.getpid() != self._owner_pid:
            self._finalizer.detach()
            self._init_state()

    # --- worker life cycle (callers hold self._cond unless said otherwise) ---------------------

    def _launch(self, index: int) -> bool:
        """Start a worker in an empty slot; a thread marks it idle once it reports ready."""
        try:
            worker = _Worker(self.preload, self.memory_limit_mb, self.warmup)
        except OSError as exc:
            self._start_failures += 1
            self.stats["crashes"] += 1
            print(f"verl_dsdr bounded runner: could not start a worker: {exc!r}", file=sys.stderr)
            return False
        self._slots[index] = worker
        self.stats["starts"] += 1
        threading.Thread(target=self._await_ready, args=(index, worker), daemon=True).start()
        return True

    def _await_ready(self, index: int, worker: _Worker) -> None:
        """Background: wait for the worker's "ready" (after its warm-up), then offer it to callers."""
        deadline = worker.started_at + self.startup_timeout
        ready = False
        while not self._closed and time.monotonic() < deadline:
            try:
                if worker.conn.poll(min(_READY_POLL_S, max(0.0, deadline - time.monotonic()))):
                    ready = worker.conn.recv()[0] == "ready"
                    break
            except (EOFError, OSError):
                break
        with self._cond:
            if self._slots[index] is not worker:  # closed, or replaced meanwhile
                return
            if ready:
                worker.state = _IDLE
                self._idle.append(index)
                self._start_failures = 0
                self.stats["ready"] += 1
            else:
                self._slots[index] = None
                self._start_failures += 1
                self.stats["crashes"] += 1
            self._cond.notify_all()
        if not ready:
            worker.kill()

    def _retire(self, index: int, worker: _Worker, reason: str) -> None:
        """Kill a worker that overran or died and start its replacement at once (no lock held)."""
        with self._cond:
            self.stats[reason] += 1
            if self._slots[index] is worker:
                self._slots[index] = None
        worker.kill()
        with self._cond:
            if not self._closed and self._slots[index] is None:
                self._launch(index)
            self._cond.notify_all()

    def _release(self, index: int, worker: _Worker) -> None:
        with self._cond:
            if self._slots[index] is worker and not self._closed:
                worker.state = _IDLE
                self._idle.append(index)
                self._cond.notify()

    def _take_idle(self) -> tuple[int, _Worker] | None:
        while self._idle:
            index = self._idle.pop()
            worker = self._slots[index]
            if worker is None or worker.state != _IDLE:
                continue
            if worker.proc.poll() is not None:  # died while idle (OOM killer, ...): replace it
                self._slots[index] = None
                self.stats["crashes"] += 1
                worker.kill()  # already dead: only reaps
                self._launch(index)
                continue
            worker.state = _BUSY
            return index, worker
        return None

    def _acquire(self, wait: float | None, wait_start: float | None) -> tuple[int, _Worker, float, float] | Outcome:
        """``(slot, worker, startup wait, busy wait)`` of a warm idle worker (marked busy), or the
        Outcome saying why none could be had."""
        start_limit = self.startup_timeout if wait_start is None else wait_start
        busy_waited = start_waited = 0.0
        last = time.monotonic()
        with self._cond:
            while True:
                if self._closed:
                    return Outcome("closed", detail="runner is closed")
                got = self._take_idle()
                if got is not None:
                    return (*got, start_waited, busy_waited)
                states = [w.state for w in self._slots if w is not None]
                warm = _IDLE in states or _BUSY in states
                starting = states.count(_STARTING)
                if starting < self._waiting + 1 and self._start_failures < MAX_START_FAILURES:
                    empty = next((i for i, w in enumerate(self._slots) if w is None), None)
                    if empty is not None and self._launch(empty):
                        starting += 1
                if not warm and not starting:
                    return Outcome(
                        "crashed", detail=f"no worker could start ({self._start_failures} failures in a row)"
                    )
                if warm and wait is not None and busy_waited >= wait:
                    self.stats["busy"] += 1
                    return Outcome(
                        "busy",
                        detail=f"every worker busy for {wait:g} s",
                        startup_wait=start_waited,
                        waited=busy_waited,
                    )
                if not warm and start_waited >= start_limit:
                    return Outcome(
                        "starting",
                        detail=f"no worker ready within {start_limit:g} s",
                        startup_wait=start_waited,
                        waited=busy_waited,
                    )
                pause = (None if wait is None else wait - busy_waited) if warm else start_limit - start_waited
                self._waiting += 1
                try:
                    self._cond.wait(pause)
                finally:
                    self._waiting -= 1
                # charge the wait to the state that held while waiting (every change notifies)
                now = time.monotonic()
                if warm:
                    busy_waited += now - last
                else:
                    start_waited += now - last
                last = now

    # --- public API ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker now and wait until each is ready or failed (a retry after failures)."""
        if self._closed:
            return
        self._check_fork()
        deadline = time.monotonic() + self.startup_timeout
        with self._cond:
            self._start_failures = 0
            for index, worker in enumerate(self._slots):
                if worker is None:
                    self._launch(index)
            while any(w is not None and w.state == _STARTING for w in self._slots) and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (starting ones included)."""
        return [w.pid for w in list(self._slots) if w is not None and w.proc.poll() is None]

    @property
    def ready_count(self) -> int:
        """Workers that are warm (idle or busy)."""
        return sum(1 for w in list(self._slots) if w is not None and w.state != _STARTING)

    def call_outcome(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float,
        wait: float | None = None,
        wait_start: float | None = None,
    ) -> Outcome:
        """Run ``fn(*args, **kwargs)`` in a warm worker with a hard limit of ``timeout`` seconds.

        wait: at most this long while every warm worker is busy (None: no bound), past it
        ``Outcome("busy")``. wait_start: at most this long while no worker is warm yet (None:
        ``startup_timeout``), past it ``Outcome("starting")``; the workers keep starting.
        """
        if timeout <= 0:
            raise ValueError(f"BoundedRunner.call: timeout must be > 0 seconds, got {timeout!r}")
        if self._closed:
            return Outcome("closed", detail="runner is closed")
        self._check_fork()
        with self._cond:
            self.stats["calls"] += 1
        startup_wait = waited = 0.0
        for attempt in range(2):  # a request that could not even be sent is retried once
            got = self._acquire(wait if wait is None else max(0.0, wait - waited), wait_start)
            if isinstance(got, Outcome):
                return dataclasses.replace(
                    got, startup_wait=startup_wait + got.startup_wait, waited=waited + got.waited
                )
            index, worker, got_startup, got_waited = got
            startup_wait += got_startup
            waited += got_waited
            spent: dict[str, Any] = {"startup_wait": startup_wait, "waited": waited}
            t0 = time.perf_counter()
            try:
                worker.conn.send((fn, tuple(args), dict(kwargs or {})))
            except OSError as exc:  # the worker died before the request reached it: nothing ran
                self._retire(index, worker, "crashes")
                if attempt:
                    return Outcome("crashed", detail=f"worker died: {exc!r}", **spent)
                continue
            except Exception as exc:  # the request could not be pickled: the worker is untouched
                self._release(index, worker)
                with self._cond:
                    self.stats["errors"] += 1
                return Outcome("error", detail=f"could not pickle the request: {exc!r}", **spent)
            try:
                if not worker.conn.poll(timeout):
                    self._retire(index, worker, "timeouts")
                    return Outcome(
                        "timeout", detail=f"killed after {timeout:g} s", seconds=time.perf_counter() - t0, **spent
                    )
                tag, value = worker.conn.recv()
            except (EOFError, OSError) as exc:
                self._retire(index, worker, "crashes")
                return Outcome("crashed", detail=f"worker died: {exc!r}", seconds=time.perf_counter() - t0, **spent)
            seconds = time.perf_counter() - t0
            self._release(index, worker)
            if tag == "ok":
                return Outcome("ok", value=value, seconds=seconds, **spent)
            with self._cond:
                self.stats["errors"] += 1
            return Outcome("error", detail=str(value), seconds=seconds, **spent)
        raise AssertionError("unreachable")

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
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> BoundedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the runner the scoring functions share -------------------------------------------------

SCORING_PRELOAD: tuple[str, ...] = ("sympy", "latex2sympy2_extended", "math_verify")
"""Imported by each scoring worker before it reports ready (outside any call's limit)."""
SCORING_WARMUP = "verl_dsdr.scoring.correctness:warm_up"
"""A real math-verify comparison each scoring worker runs before it reports ready."""

_shared: BoundedRunner | None = None
_shared_lock = threading.Lock()
_configured: ScoringPool | None = None


def configure_scoring(pool: ScoringPool) -> None:
    """Size the process-wide pool from the run's config (:func:`verl_dsdr.scoring.pool_config.scoring_pool`).

    Called by the reward function with verl's reward kwargs and by the reward manager before its
    warm-up. A pool already running with other settings is closed and replaced at the next call.
    """
    global _configured
    with _shared_lock:
        if pool == _configured:
            return
        _configured = pool
        if _shared is not None and (_shared.workers, _shared.memory_limit_mb) != (
            pool.scoring_workers,
            pool.memory_limit_mb,
        ):
            _shared.close()


def scoring_runner() -> BoundedRunner:
    """The process-wide pool used by ``formulas`` (sympy mode) and ``correctness``.

    At most ``scoring_workers`` workers (default 4 per process; started on demand, so a process
    whose calls never overlap runs one). verl calls the reward function from the executor threads
    of ``reward.num_workers`` reward-loop actors (default 8), each actor gathering all its
    trajectories at once: 4 per actor absorb up to 4 simultaneous hostile responses per actor
    without delaying the others. Address-space limit per worker: ``scoring_memory_mb`` (default
    4096; 0 disables), so a computation that tries to build a gigantic integer fails with
    MemoryError instead of exhausting the machine. Both are ``reward.custom_reward_function.
    reward_kwargs`` keys (:mod:`verl_dsdr.scoring.pool_config`), set here by :func:`configure_scoring`;
    a process never configured reads the deprecated environment variables, else the defaults.
    Workers preload sympy and math-verify and run ``SCORING_WARMUP`` before taking a call. A
    closed shared runner is replaced.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            pool = _configured or scoring_pool()
            _shared = BoundedRunner(
                workers=pool.scoring_workers,
                preload=SCORING_PRELOAD,
                memory_limit_mb=pool.memory_limit_mb,
                warmup=SCORING_WARMUP,
            )
        return _shared


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


atexit.register(_close_shared)
