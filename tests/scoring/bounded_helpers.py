"""Functions the bounded-runner tests send to worker processes (imported there by module name)."""

import os
import time

WARMED = False


def mark_warm() -> None:
    global WARMED
    WARMED = True


def slow_warm() -> None:
    """A warm-up longer than the limits the tests give their calls."""
    time.sleep(1.0)
    mark_warm()


def never_warm() -> None:
    time.sleep(60)


def was_warmed() -> bool:
    return WARMED


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()
