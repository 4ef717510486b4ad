"""Config validation in the launching process, before Ray or any model starts.

Each error names the key, the value given, the allowed range, and how to fix it, so a wrong
value costs a second instead of a cluster start-up. The methods' keys, defaults and ranges
are their typed settings (:mod:`verl_dsdr.methods`); this module builds them and adds what
depends on the environment (paths that must exist) and on verl's settings (group size,
trainer mode). Imports neither verl nor ray.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig, OmegaConf

from verl_dsdr.config import hf_cpu
from verl_dsdr.methods import METHODS, method_of, settings_of
from verl_dsdr.methods.params import ConfigError
from verl_dsdr.scoring.pool_config import reward_kwargs, scoring_pool
from verl_dsdr.utils.hub import is_hub_id  # org/name: verl resolves it from the Hugging Face cache

__all__ = ["ConfigError", "check_config", "check_method_settings"]

# verl 0.9.1's separate_async trainer moves weights between separate trainer and rollout
# processes with a collective checkpoint engine (nccl, nixl or mooncake; it refuses "naive":
# verl/trainer/ppo/v1/trainer_separate_async.py:68) and none of those runs without a GPU.
CPU_TRAINER_MODES = ("sync", "colocate_async")


def _is_remote(value: str) -> bool:
    return "://" in value


def check_method_settings(config: DictConfig) -> dict:
    """Build every method's typed settings (``algorithm.<name>``); each bad value names its key."""
    method_of(config)  # imports algorithm.method_modules, so their sections are checked too
    return {name: spec.build_settings(config.algorithm) for name, spec in METHODS.items()}


def _check_reward_fields(config: DictConfig) -> None:
    """The method's reward-side fields must work where the reward workers run (an encoder folder must exist)."""
    spec = method_of(config)
    if spec is None:
        return
    for field in spec.reward_fields(settings_of(config, spec)):
        try:
            field.check()
        except ValueError as error:
            raise ConfigError(str(error)) from None


def _check_scoring_pool(config: DictConfig) -> None:
    """The verifier pool's reward kwargs (``scoring_workers``, ``scoring_memory_mb``; verl_dsdr.scoring.pool_config)."""
    try:
        scoring_pool(reward_kwargs(config))
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _check_hf_cpu_rollout(config: DictConfig) -> None:
    """The hf_cpu rollout's ``engine_kwargs.hf_cpu`` keys (``num_threads``; verl_dsdr.config.hf_cpu), when it is the rollout."""
    rollout = config.actor_rollout_ref.rollout
    if rollout.get("name") != hf_cpu.NAME:
        return
    try:
        hf_cpu.hf_cpu_settings(hf_cpu.hf_cpu_section(rollout))
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _check_trainer_mode(config: DictConfig) -> None:
    mode = str(config.trainer.v1.trainer_mode)
    if config.trainer.device == "cpu" and mode not in CPU_TRAINER_MODES:
        raise ConfigError(
            f"trainer.v1.trainer_mode={mode!r} cannot run on the CPU backend: verl's separate_async trainer syncs "
            "weights from the trainer to separate rollout servers through a collective checkpoint engine "
            "(actor_rollout_ref.rollout.checkpoint_engine.backend=nccl|nixl|mooncake; it refuses 'naive'), and none "
            f"of those runs without a GPU. Use trainer.v1.trainer_mode=sync or colocate_async on CPU."
        )


def _check_local_paths(config: DictConfig) -> None:
    model_path = str(config.actor_rollout_ref.model.path)
    exists = os.path.exists(os.path.expanduser(model_path))
    if not exists and not _is_remote(model_path) and not is_hub_id(model_path):
        raise ConfigError(
            f"actor_rollout_ref.model.path={model_path!r} does not exist: point it at a local Hugging Face model "
            "folder (for the embedded tiny model run `python -m verl_dsdr.assets build --print-env`)"
        )
    for key in ("train_files", "val_files"):
        files = config.data.get(key)
        files = OmegaConf.to_container(files) if OmegaConf.is_config(files) else files
        for f in [files] if isinstance(files, str) else (files or []):
            if not _is_remote(str(f)) and not os.path.exists(os.path.expanduser(str(f))):
                raise ConfigError(
                    f"data.{key} names {f!r}, which does not exist: prepare it with `python -m verl_dsdr.data ...` "
                    "or fix the path"
                )


def check_config(config: DictConfig) -> None:
    """Validate everything verl-dsdr adds, plus the verl settings its methods depend on."""
    spec = method_of(config)
    n = int(config.actor_rollout_ref.rollout.n)
    if spec is not None and n < spec.min_group_size:
        raise ConfigError(
            f"actor_rollout_ref.rollout.n={n} is invalid for algorithm.adv_estimator={spec.name}: group-relative "
            f"methods need >= {spec.min_group_size} rollouts per prompt (the paper uses 8). "
            "Set actor_rollout_ref.rollout.n=8."
        )
    check_method_settings(config)
    _check_reward_fields(config)
    _check_scoring_pool(config)
    _check_hf_cpu_rollout(config)
    _check_trainer_mode(config)
    _check_local_paths(config)
