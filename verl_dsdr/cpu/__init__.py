"""CPU backend for verl 0.9.1: platform, HF-sampling rollout, process-group fix.

A debugging and CI path: it runs verl's real PPO trainer on a machine without a GPU with a
tiny model. It is not a way to train real models. Activated by ``VERL_PLATFORM=cpu``
(the ``preset=cpu`` config sets it for every Ray process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omegaconf import DictConfig, open_dict

if TYPE_CHECKING:
    from verl_dsdr.cpu.local_ray import LocalRay


def prepare_cpu_run(config: DictConfig) -> LocalRay | None:
    """What a ``trainer.device=cpu`` run needs before Ray starts, in the launching process: logical
    resources that fit the run's shape (refused, naming the key, when set too small), the
    verl-free rollout load balancer (:mod:`verl_dsdr.cpu.router`), the environment every Ray process
    of the run gets (:func:`verl_dsdr.cpu.resources.worker_environment`) and a
    loopback-only, token-protected Ray of its own (:mod:`verl_dsdr.cpu.local_ray`, whose
    :class:`~verl_dsdr.cpu.local_ray.LocalRay` is returned; ``None`` when joining a cluster)."""
    from verl_dsdr.cpu.local_ray import prepare_local_ray
    from verl_dsdr.cpu.resources import fit_cpu_resources, worker_environment
    from verl_dsdr.cpu.router import router_config_path

    fit_cpu_resources(config)
    rollout = config.actor_rollout_ref.rollout
    if rollout.get("router_config_path") is None:  # a load balancer that does not import verl (cpu/router.py)
        with open_dict(config):
            rollout.router_config_path = router_config_path()
    with open_dict(config):
        ray_init = config.ray_kwargs.ray_init
        if ray_init.get("runtime_env") is None:
            ray_init.runtime_env = {}
        if ray_init.runtime_env.get("env_vars") is None:
            ray_init.runtime_env.env_vars = {}
        for key, value in worker_environment().items():
            ray_init.runtime_env.env_vars.setdefault(key, value)
    return prepare_local_ray(config)
