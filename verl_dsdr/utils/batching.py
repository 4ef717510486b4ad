"""Gather concurrent single-item async calls into batched calls.

verl's agent loop and reward loop issue one request per trajectory. Models are much
faster on batches, so both the CPU rollout server and the DSDR reward manager put each
request in a queue and one task runs the queued items together, on a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """``await batcher.submit(item)`` -> ``fn([..., item, ...])[position]``.

    Items arriving within ``window_s`` of each other (a burst: one group, one batch) share a
    call to ``fn``; at most ``max_batch`` items per call. ``fn`` runs in a thread so the event
    loop keeps accepting requests. An exception in ``fn`` fails the items of that call only.
    """

    def __init__(self, fn: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 256, window_s: float = 0.005):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.fn = fn
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: list[tuple[T, asyncio.Future]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.calls = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((item, future))
        if self._wakeup is None or self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._drain(self._wakeup))
        self._wakeup.set()
        return await future

    async def _drain(self, wakeup: asyncio.Event) -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            await asyncio.sleep(self.window_s)
            while self._queue:
                taken, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._run(taken)

    async def _run(self, taken: list[tuple[T, asyncio.Future]]) -> None:
        try:
            results = await asyncio.to_thread(self.fn, [item for item, _ in taken])
            if len(results) != len(taken):
                raise RuntimeError(f"batched function returned {len(results)} results for {len(taken)} items")
            for (_, future), result in zip(taken, results):
                if not future.done():
                    future.set_result(result)
            self.calls += 1
            self.items += len(taken)
        except Exception as error:  # fail this call's items, never leave them hanging
            for _, future in taken:
                if not future.done():
                    future.set_exception(error)
