"""The launching process of a CPU run, slimmed down once the config is checked.

The process that runs ``python -m verl_dsdr.main_ppo`` imports verl (torch, tensordict, pandas,
peft, transformers: ~0.45 GB with torch's CPU build) to check the config, and then only waits on
the TaskRunner actor for the whole run. On a CPU run that idle memory is a tenth of the total,
so after verl's own checks the process replaces itself (``os.execv``, same PID, same output)
with a small one that imports only Ray and starts the same TaskRunner with the same
``ray.init`` arguments.

Those arguments are verl's own: :func:`ray_init_kwargs` runs verl's ``run_ppo``
(``verl/trainer/main_ppo.py`` ~56-74 merges verl's default runtime environment, the user's
``ray_kwargs.ray_init`` and the TransferQueue switch) with ``ray.init`` intercepted, so nothing of
that sequence is copied here. ``run_ppo`` then starts the TaskRunner (~76-93); its only other
branch is nsys profiling, which needs CUDA and cannot apply to a CPU run.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from omegaconf import DictConfig

if TYPE_CHECKING:
    from ray.actor import ActorClass

__all__ = ["hand_over", "ray_init_kwargs"]

HANDOVER_FILE = "verl_dsdr_driver.pkl"


class _Captured(Exception):
    def __init__(self, kwargs: dict) -> None:
        super().__init__("ray.init intercepted")
        self.kwargs = kwargs


def ray_init_kwargs(config: DictConfig) -> dict[str, Any]:
    """What verl's ``run_ppo`` would pass to ``ray.init`` for this config (Ray is not started)."""
    from unittest import mock

    import ray
    from verl.trainer.main_ppo import run_ppo

    def _capture(**kwargs: Any) -> NoReturn:
        raise _Captured(kwargs)

    with mock.patch.object(ray, "init", _capture), mock.patch.object(ray, "is_initialized", lambda: False):
        try:
            run_ppo(config, task_runner_class=None)
        except _Captured as captured:
            return captured.kwargs
    raise RuntimeError("verl's run_ppo did not call ray.init; the CPU driver hand-over does not fit this verl version")


def hand_over(config: DictConfig, session_dir: str, owns_session_dir: bool) -> None:
    """Replace this process with the lean driver; never returns."""
    handover = Path(session_dir) / HANDOVER_FILE
    with open(handover, "wb") as f:
        pickle.dump({"config": config, "ray_init": ray_init_kwargs(config), "owns": owns_session_dir}, f)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "verl_dsdr.cpu.lean_driver", str(handover)])


def main(handover_path: str) -> int:
    import ray

    from verl_dsdr.glue.task_runner import TaskRunner

    with open(handover_path, "rb") as f:
        state = pickle.load(f)
    os.remove(handover_path)
    session_dir = str(Path(handover_path).parent)
    try:
        ray.init(**state["ray_init"])
        # mypy does not apply class decorators: @ray.remote made TaskRunner an ActorClass. Ray types an
        # actor's methods only when they carry @ray.method, so the handle is Any.
        actor_class: ActorClass[TaskRunner] = cast(Any, TaskRunner)
        runner: Any = actor_class.remote()
        ray.get(runner.run.remote(state["config"]))
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if state["owns"]:
            shutil.rmtree(session_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
