"""``python -m verl_dsdr.main_ppo``: verl's PPO trainer with verl-dsdr's algorithms.

Composes verl's own packaged config (``pkg://verl.trainer.config``) with
``verl_dsdr/config/dsdr_ppo.yaml`` and takes every verl override. ``algorithm.adv_estimator``
picks the method (:data:`verl_dsdr.methods.METHODS`, plus the modules named in
``algorithm.method_modules``); the method says what it needs (the ``dsdr`` reward manager,
verl keys, start-up notes). Every estimator, verl's own
(``grpo``, ...) included, runs verl's trainer for ``trainer.v1.trainer_mode`` with the group
trainer on top (:mod:`verl_dsdr.glue.group_trainer`), so baselines share this entry.
``preset=cpu`` runs it all on a machine without a GPU.

Everything that can be wrong in the config is checked here, in the launching process,
before Ray or any model starts.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from verl_dsdr.assets.build import keep_inductor_cache_in_checkout
from verl_dsdr.config_checks import ConfigError, check_config
from verl_dsdr.glue.verl_private import check_verl_version
from verl_dsdr.methods import method_of, settings_of
from verl_dsdr.methods.registry import METHOD_MODULES_ENV

keep_inductor_cache_in_checkout()  # before Hydra's pkg://verl search path imports verl

PLUGIN_MODULE = "verl_dsdr.plugin"
FORWARDED_ENV_PREFIXES = ("VERL_DSDR_", "VERL_FILE_LOGGER_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def prepare_environment(config: DictConfig) -> None:
    """Put the plugin and the CPU platform into every Ray process, and this one.

    ``VERL_USE_EXTERNAL_MODULES`` makes verl import the plugin in every process
    (``verl/__init__.py``), in addition to the ``verl.plugins`` entry point. On the CPU
    preset the platform variables are also set here, because the launching process calls
    ``auto_set_device`` (``verl/utils/device.py``), which would rewrite ``trainer.device=cpu``
    to ``cuda`` under the default platform.
    """
    with open_dict(config):
        runtime_env = config.ray_kwargs.ray_init.setdefault("runtime_env", {})
        env_vars = runtime_env.setdefault("env_vars", {})
        modules = [m for m in str(env_vars.get("VERL_USE_EXTERNAL_MODULES", "") or "").split(",") if m]
        if PLUGIN_MODULE not in modules:
            modules.append(PLUGIN_MODULE)
        env_vars["VERL_USE_EXTERNAL_MODULES"] = ",".join(modules)
        method_modules = [str(m) for m in (config.algorithm.get("method_modules") or [])]
        if method_modules:  # the plugin imports them in every process (verl_dsdr.registration)
            env_vars[METHOD_MODULES_ENV] = ",".join(method_modules)
        if config.trainer.device == "cpu":
            env_vars.setdefault("VERL_PLATFORM", "cpu")
        for key, value in os.environ.items():  # run-info and logger paths reach the TaskRunner actor
            if key.startswith(FORWARDED_ENV_PREFIXES):
                env_vars.setdefault(key, value)
        for key, value in env_vars.items():
            if key.startswith(("VERL_", "RAY_AUTH")):
                os.environ.setdefault(key, str(value))
    if config.trainer.device == "cpu":
        from verl.plugin.platform import get_platform, set_platform

        from verl_dsdr.cpu.patches import install_cpu_backend

        install_cpu_backend()
        if get_platform().device_name != "cpu":
            from verl_dsdr.cpu.platform import PlatformCPU

            set_platform(PlatformCPU())


def apply_method_settings(config: DictConfig) -> None:
    """What the method needs from verl's config, so one switch (``adv_estimator``) is enough."""
    spec = method_of(config)
    if spec is None:
        return
    settings = settings_of(config, spec)
    with open_dict(config):
        if spec.needs_reward_extras:
            # Per-trajectory correctness and the method's reward-side fields for the group step.
            config.reward.reward_manager.source = "register"
            config.reward.reward_manager.name = "dsdr"
        for key, value in spec.actor_overrides(settings, config).items():
            OmegaConf.update(config, key, value)
    for note in spec.start_notes(settings, config):
        print(note, flush=True)


def run(config: DictConfig) -> None:
    """Check, prepare and run (also callable from Python with a composed config)."""
    check_verl_version()
    check_config(config)
    local_ray = None
    if config.trainer.device == "cpu":
        from verl_dsdr.cpu import prepare_cpu_run

        local_ray = prepare_cpu_run(config)
    apply_method_settings(config)
    prepare_environment(config)

    from verl.trainer.main_ppo import run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.device import auto_set_device

    from verl_dsdr.glue.task_runner import TaskRunner

    auto_set_device(config)
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    if local_ray is not None:  # a CPU run on its own Ray: the checked config goes on in a process without verl
        from verl_dsdr.cpu.lean_driver import hand_over

        hand_over(config, local_ray.folder, local_ray.owned)
    run_ppo(config, task_runner_class=TaskRunner)


@hydra.main(config_path="config", config_name="dsdr_ppo", version_base=None)
def main(config: DictConfig) -> None:
    OmegaConf.set_struct(config, True)
    try:
        run(config)
    except ConfigError as error:  # bad input: the message names the key and the fix; no traceback
        print(f"[verl_dsdr] config error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
