"""Ray's logical resources for a CPU run, derived from the run's shape and checked before Ray starts.

On the CPU backend Ray's ``CPU`` and ``GPU`` counts are scheduling tokens, not hardware: each
trainer rank takes one logical GPU, and verl's actors hold logical CPUs while they live. A fixed
count either wastes nothing (too many is harmless) or, too few, leaves an actor unschedulable
and verl waiting forever without a word (``verl/trainer/ppo/v1/trainer_base.py`` ~372 polls for
rollout servers that never start). So the counts follow the config: the preset leaves
``ray_kwargs.ray_init.num_cpus`` / ``num_gpus`` at ``null`` and :func:`fit_cpu_resources` fills
them in; a count set by hand that is too small is refused here, naming the setting.

What holds logical CPUs in verl 0.9.1 (each for the actor's whole life):
- every trainer rank's placement-group bundle: ``max_colocate_count`` = 3 CPUs
  (``verl/single_controller/ray/base.py`` ~146 and ~192);
- every TransferQueue storage unit and its controller: 1 each
  (``transfer_queue/storage/simple_storage.py`` ~722, ``transfer_queue/controller.py`` ~943);
- every ``hf_cpu`` rollout server: :data:`verl_dsdr.cpu.rollout.SERVER_CPUS`.
Actors created without ``num_cpus`` (TaskRunner, load balancer, agent and reward workers) need
one free CPU to be placed and hold none afterwards; :data:`SCHEDULING_SLACK` keeps them placeable.
Imports neither verl nor ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, open_dict

from verl_dsdr.methods.params import ConfigError

__all__ = [
    "CPU_PER_RANK",
    "TQ_DEFAULT_THREADS",
    "SCHEDULING_SLACK",
    "ResourceError",
    "ResourcePlan",
    "fit_cpu_resources",
    "plan_cpu_resources",
    "transfer_queue_threads",
    "worker_environment",
]

TQ_DEFAULT_THREADS = 8  # TransferQueue's TQ_NUM_THREADS default (transfer_queue/client.py, storage/simple_storage.py)
CPU_PER_RANK = 3  # verl's ResourcePoolManager.max_colocate_count (single_controller/ray/base.py ~192)
SCHEDULING_SLACK = 2


class ResourceError(ConfigError):
    """A Ray resource setting that cannot host this run's shape; the message names the key and the fix."""


@dataclass(frozen=True)
class ResourcePlan:
    """Logical resources one CPU run needs, with the parts they come from (for messages and docs)."""

    ranks: int
    rollout_ranks: int
    storage_units: int
    rollout_servers: int
    server_cpus: int

    @property
    def gpus(self) -> int:
        return self.ranks + self.rollout_ranks

    @property
    def cpus(self) -> int:
        return (
            CPU_PER_RANK * self.gpus
            + self.storage_units
            + 1  # TransferQueue controller
            + self.server_cpus * self.rollout_servers
            + SCHEDULING_SLACK
        )

    def explain(self) -> str:
        return (
            f"{self.gpus} rank(s) x {CPU_PER_RANK} + {self.storage_units} TransferQueue storage unit(s) + 1 controller"
            f" + {self.rollout_servers} rollout server(s) x {self.server_cpus} + {SCHEDULING_SLACK} to place verl's other actors"
        )


def _int(value: Any, key: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ResourceError(f"{key}={value!r} is invalid: it must be a whole number.") from None
    return number


def plan_cpu_resources(config: DictConfig) -> ResourcePlan:
    """The logical CPUs and GPUs a ``preset=cpu`` run of this config holds on a single machine."""
    from verl_dsdr.cpu.rollout_names import SERVER_CPUS

    trainer = config.trainer
    nnodes, per_node = _int(trainer.nnodes, "trainer.nnodes"), _int(trainer.n_gpus_per_node, "trainer.n_gpus_per_node")
    if nnodes < 1 or per_node < 1:
        raise ResourceError(
            f"trainer.nnodes={nnodes} x trainer.n_gpus_per_node={per_node} gives no trainer rank on the CPU backend; "
            "set both to at least 1 (each rank is one process with one logical GPU)."
        )
    rollout = config.actor_rollout_ref.rollout
    rollout_ranks = 0
    if str(config.trainer.get("v1", {}).get("trainer_mode", "sync")) == "separate_async":
        rollout_ranks = _int(rollout.get("nnodes", 0) or 0, "actor_rollout_ref.rollout.nnodes") * _int(
            rollout.get("n_gpus_per_node", 0) or 0, "actor_rollout_ref.rollout.n_gpus_per_node"
        )
    ranks = nnodes * per_node
    replica_size = max(
        1,
        _int(rollout.get("tensor_model_parallel_size", 1) or 1, "actor_rollout_ref.rollout.tensor_model_parallel_size"),
    )
    storage = config.get("transfer_queue", {}).get("backend", {}).get("SimpleStorage", {})
    units = _int(
        storage.get("num_data_storage_units", 8), "transfer_queue.backend.SimpleStorage.num_data_storage_units"
    )
    return ResourcePlan(
        ranks=ranks,
        rollout_ranks=rollout_ranks,
        storage_units=units,
        rollout_servers=max(1, (ranks + rollout_ranks) // replica_size),
        server_cpus=SERVER_CPUS,
    )


def fit_cpu_resources(config: DictConfig) -> ResourcePlan:
    """Fill ``ray_kwargs.ray_init.num_cpus`` / ``num_gpus`` left at ``null`` from the run's shape;
    refuse values set by hand that cannot host it. Connecting to a running cluster
    (``ray_init.address``) leaves both alone: that cluster's own counts apply."""
    plan = plan_cpu_resources(config)
    ray_init = config.ray_kwargs.ray_init
    if ray_init.get("address"):
        return plan
    for key, needed in (("num_cpus", plan.cpus), ("num_gpus", plan.gpus)):
        given = ray_init.get(key)
        if given is None:
            with open_dict(config):
                ray_init[key] = needed
            continue
        given = _int(given, f"ray_kwargs.ray_init.{key}")
        if given < needed:
            what = "CPUs" if key == "num_cpus" else "GPUs"
            raise ResourceError(
                f"ray_kwargs.ray_init.{key}={given} is too small for this run: it needs {needed} logical {what} "
                f"({plan.explain()}); with fewer, Ray cannot place an actor and verl waits forever. "
                f"Set ray_kwargs.ray_init.{key}={needed} or leave it null so verl-dsdr sets it."
            )
    return plan


def transfer_queue_threads() -> int:
    """Torch threads for TransferQueue's tensor packing: its default of 8, but no more than the
    physical cores of the machine and the cores this process may use. More than the physical cores
    makes TransferQueue warn on every put and get (``target_num_threads 8 should not exceed total
    physical CPU cores 2``, ``transfer_queue/utils/common.py``), hundreds of times per CPU run."""
    import os

    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(TQ_DEFAULT_THREADS, psutil.cpu_count(logical=False) or 1, usable))


def worker_environment() -> dict[str, str]:
    """Variables every Ray process of a CPU run gets (``ray_init.runtime_env.env_vars``; values set
    in the config win): TransferQueue's thread count from the cores the run is given, and the
    launching environment's torch inductor cache folder (the project's scripts and tests keep it
    under the repository's ``.cache/``), stated for every worker whatever environment Ray starts it in."""
    import os

    env = {"TQ_NUM_THREADS": os.environ.get("TQ_NUM_THREADS") or str(transfer_queue_threads())}
    if os.environ.get("TORCHINDUCTOR_CACHE_DIR"):
        env["TORCHINDUCTOR_CACHE_DIR"] = os.environ["TORCHINDUCTOR_CACHE_DIR"]
    return env
