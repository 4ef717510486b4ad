"""The Ray actor that builds and runs the trainer (verl-dsdr's counterpart of ``TaskRunnerV1``).

verl's ``TaskRunnerV1`` (``verl/trainer/main_ppo.py``) picks the trainer class with
``get_trainer_cls(trainer.v1.trainer_mode)``. This runner takes the same class and puts the
group trainer on top (:func:`verl_dsdr.glue.group_trainer.trainer_class_for`), then follows
the same sequence through verl's public pieces: TransferQueue, ``trainer.init()``, the
agent-loop manager, ``trainer.fit()``. It lives in an importable module so Ray pickles it by
reference.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import ray
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    from verl.experimental.agent_loop import AgentLoopManager


def _worker_platform(trainer: Any) -> list[str]:
    """Ask every trainer worker which verl platform it runs on (for logs and tests)."""
    workers = getattr(getattr(trainer, "actor_rollout_wg", None), "workers", None) or []

    def _probe(_self: Any) -> str:
        from verl.utils.device import get_device_name

        return get_device_name()

    return ray.get([w.__ray_call__.remote(_probe) for w in workers])


def _wait_until_ready(*groups: Any) -> None:
    """Wait for the reward and agent-loop workers to finish starting before step 1.

    verl creates them without waiting (``experimental/reward_loop/reward_loop.py`` ~334,
    ``experimental/agent_loop/agent_loop.py`` ~1217), so their start-up (imports, the embedder
    load, the verifier's warm-up) would otherwise land inside the first step's time.
    """
    import time

    handles = [h for group in groups for h in group]
    start = time.perf_counter()
    ray.get([h.__ray_ready__.remote() for h in handles])
    print(
        f"[verl_dsdr] {len(handles)} reward and agent-loop workers ready in {time.perf_counter() - start:.1f}s "
        "(start-up, before step 1)",
        flush=True,
    )


@ray.remote
class TaskRunner:
    """Builds the trainer inside the Ray cluster and trains."""

    def run(self, config: DictConfig) -> None:
        import copy
        from concurrent.futures import ThreadPoolExecutor

        import transfer_queue as tq

        config.transfer_queue.enable = True
        OmegaConf.resolve(config)
        # tq.init starts TransferQueue's controller and storage actors and waits for each (~7 s of
        # their start-up on a CPU run). It only reads its own copy of the config, so it runs in a
        # thread while this process imports verl's trainer, instead of after it.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tq-init") as pool:
            tq_started = pool.submit(tq.init, copy.deepcopy(config.transfer_queue))
            from verl.trainer.ppo.v1 import AgentLoopManagerTQ
            from verl.utils.import_utils import load_class_from_fqn
            from verl.utils.logging_utils import configure_verl_logging

            from verl_dsdr.glue.group_trainer import trainer_class_for

            configure_verl_logging()
            trainer_cls = trainer_class_for(config)
            tq_started.result()  # its error, if any, is raised here
        trainer, succeeded = None, False
        try:
            trainer = trainer_cls(config=config)
            trainer.init()
            platforms = _worker_platform(trainer)
            print(f"[verl_dsdr] trainer {trainer_cls.__name__}; worker platforms: {platforms}", flush=True)
            self._write_run_info(
                {
                    "trainer": trainer_cls.__name__,
                    "trainer_mode": str(config.trainer.v1.trainer_mode),
                    "worker_platforms": platforms,
                }
            )
            fqn = config.actor_rollout_ref.rollout.get("agent", {}).get("agent_loop_manager_class")
            manager_cls: type[AgentLoopManager] = (
                load_class_from_fqn(fqn, "AgentLoopManager") if fqn else AgentLoopManagerTQ
            )
            manager = manager_cls.create(
                config=config,
                llm_client=trainer.get_llm_client(),
                teacher_client=trainer.get_teacher_client(),
                reward_loop_worker_handles=trainer.get_reward_handles(),
            )
            _wait_until_ready(trainer.get_reward_handles(), getattr(manager, "agent_loop_workers", None) or [])
            trainer.fit(manager)
            succeeded = True
        finally:
            try:
                tracking = getattr(trainer, "logger", None)
                if tracking is not None:
                    tracking.finish(exit_code=0 if succeeded else 1)
            finally:
                tq.close()

    @staticmethod
    def _write_run_info(info: dict) -> None:
        path = os.environ.get("VERL_DSDR_RUN_INFO")
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                json.dump(info, f, indent=2)
