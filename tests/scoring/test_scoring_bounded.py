"""BoundedRunner: results, hard timeouts, crashes, threads, shutdown and orphan protection."""

import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from verl_dsdr.scoring.bounded import BoundedRunner, Outcome

REPO = Path(__file__).resolve().parents[2]


def _gone(pid: int, within: float = 10.0) -> bool:
    """True once the process has exited (a zombie left to a non-reaping init counts as gone)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def runner():
    r = BoundedRunner(workers=2)
    yield r
    r.close()


def test_returns_the_function_result(runner):
    # 5! = 120
    assert runner.call(math.factorial, (5,), timeout=10) == 120
    outcome = runner.call_outcome(divmod, (17, 5), timeout=10)
    assert outcome == Outcome("ok", value=(3, 2), seconds=outcome.seconds)


def test_timeout_kills_the_worker_and_returns_the_fallback(runner):
    runner.start()
    before = set(runner.pids)
    t0 = time.monotonic()
    result = runner.call(time.sleep, (60,), timeout=0.3, fallback="late")
    assert result == "late"
    assert time.monotonic() - t0 < 15  # hang guard only: the call returned instead of sleeping 60 s
    assert runner.stats["timeouts"] >= 1
    # The overrunning worker was killed and replaced; the replacement answers.
    assert set(runner.pids) != before
    assert not all(pid in runner.pids for pid in before)
    assert runner.call(math.factorial, (4,), timeout=30) == 24


def test_exception_becomes_error_outcome(runner):
    outcome = runner.call_outcome(int, ("not a number",), timeout=10)
    assert outcome.status == "error"
    assert "ValueError" in outcome.detail
    assert runner.call(int, ("x",), timeout=10, fallback=-1) == -1


def test_worker_crash_is_survived(runner):
    outcome = runner.call_outcome(os._exit, (3,), timeout=10)
    assert outcome.status == "crashed"
    assert runner.call(math.factorial, (3,), timeout=30) == 6


def test_threads_share_the_pool(runner):
    results = {}

    def work(i: int) -> None:
        results[i] = runner.call(math.factorial, (i,), timeout=30)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: math.factorial(i) for i in range(8)}


def test_memory_limit_turns_a_huge_allocation_into_an_error():
    with BoundedRunner(memory_limit_mb=512) as r:
        outcome = r.call_outcome(bytearray, (2**31,), timeout=30)  # 2 GiB > 512 MiB
        assert outcome.status == "error" and "MemoryError" in outcome.detail
        assert r.call(len, ("abc",), timeout=30) == 3


def test_close_reaps_every_worker():
    r = BoundedRunner(workers=2)
    r.start()
    pids = r.pids
    assert len(pids) == 2
    r.close()
    assert all(_gone(pid) for pid in pids)
    assert r.pids == []
    assert r.call_outcome(len, ("x",), timeout=5).status == "closed"
    assert r.call(len, ("x",), timeout=5, fallback=0) == 0


def test_worker_exits_when_its_parent_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        from verl_dsdr.scoring.bounded import BoundedRunner
        r = BoundedRunner()
        r.start()
        print(r.pids[0], flush=True)
        time.sleep(120)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        worker_pid = int(parent.stdout.readline())
        assert not _gone(worker_pid, within=0.2)
        parent.kill()
        parent.wait(10)
        assert _gone(worker_pid)
    finally:
        parent.kill()
        parent.wait(10)


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="workers"):
        BoundedRunner(workers=0)
    with pytest.raises(ValueError, match="memory_limit_mb"):
        BoundedRunner(memory_limit_mb=0)
    with BoundedRunner() as r, pytest.raises(ValueError, match="timeout"):
        r.call(len, ("x",), timeout=0)


def test_a_worker_killed_while_idle_is_replaced_transparently():
    with BoundedRunner() as r:
        r.start()
        (pid,) = r.pids
        os.kill(pid, 9)
        # wait until the whole process has exited (waitable), without reaping it
        deadline = time.monotonic() + 10
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert r.call(math.factorial, (5,), timeout=30) == 120
        assert r.pids and r.pids[0] != pid


def test_a_caller_need_not_wait_for_a_starting_worker():
    with BoundedRunner() as r:
        # a fresh interpreter cannot be ready within 1 ms: the call returns at once, runs nothing
        first = r.call_outcome(len, ("abc",), timeout=5, wait_start=0.001)
        assert first.status == "starting"
        (pid,) = r.pids
        # the same worker keeps starting and serves the next call
        assert r.call(len, ("abc",), timeout=30) == 3
        assert r.pids == [pid]


# --- warm workers, start-ups never charged, a growing pool with bounded waits ---------------------

WARM = "bounded_helpers:mark_warm"


def test_a_worker_is_warm_before_its_first_call_and_start_up_is_not_charged():
    with BoundedRunner(warmup="bounded_helpers:slow_warm") as r:
        from bounded_helpers import was_warmed

        # the warm-up sleeps 1 s, longer than this call's 0.5 s limit: the limit covers execution only
        outcome = r.call_outcome(was_warmed, timeout=0.5)
        assert outcome.ok and outcome.value is True
        assert outcome.startup_wait >= 1.0 and outcome.waited == 0.0
        assert r.stats["starts"] == 1 and r.stats["ready"] == 1


def test_killed_workers_are_replaced_by_warm_ones():
    from bounded_helpers import was_warmed

    with BoundedRunner(warmup=WARM) as r:
        for _ in range(3):
            assert r.call_outcome(time.sleep, (60,), timeout=0.2).status == "timeout"
            # the replacement ran its warm-up before taking this call
            assert r.call(was_warmed, timeout=5) is True
        assert r.stats["timeouts"] == 3
        assert r.stats["starts"] == 4 and r.stats["ready"] == 4


def test_the_pool_grows_for_concurrent_callers_up_to_its_size():
    from bounded_helpers import sleep_then_pid

    with BoundedRunner(workers=3) as r:
        pids = []
        barrier = threading.Barrier(3)

        def work():
            barrier.wait()
            pids.append(r.call(sleep_then_pid, (1.0,), timeout=30))

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(set(pids)) == 3 and None not in pids
        assert r.stats["starts"] == 3
        # a fourth, sequential call reuses a warm worker: the pool never exceeds its size
        assert r.call(sleep_then_pid, (0.0,), timeout=30) in pids
        assert r.stats["starts"] == 3 and len(r.pids) == 3


def test_the_wait_for_a_busy_pool_is_bounded():
    with BoundedRunner(workers=1) as r:
        r.start()
        holder = threading.Thread(target=r.call_outcome, args=(time.sleep, (30,)), kwargs={"timeout": 60})
        holder.start()
        while r.stats["calls"] < 1:
            time.sleep(0.01)
        time.sleep(0.2)  # let the holder take the only worker
        outcome = r.call_outcome(len, ("abc",), timeout=5, wait=0.3)
        assert outcome.status == "busy" and outcome.waited >= 0.3
        assert r.stats["busy"] == 1
    holder.join(15)
    assert not holder.is_alive()  # close() ended the holder's call too


def test_a_pool_whose_workers_cannot_start_fails_fast():
    with BoundedRunner(warmup="bounded_helpers:never_warm", startup_timeout=0.3) as r:
        t0 = time.monotonic()
        outcome = r.call_outcome(len, ("abc",), timeout=5, wait_start=30)
        assert outcome.status == "crashed" and "3 failures in a row" in outcome.detail
        assert r.stats["starts"] == 3  # MAX_START_FAILURES attempts, then no more
        assert time.monotonic() - t0 < 25  # hang guard only: it did not wait the full wait_start
        assert r.call_outcome(len, ("abc",), timeout=5).status == "crashed"
