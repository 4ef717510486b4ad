"""Register verl-dsdr's methods and reward manager with verl's registries.

:mod:`verl_dsdr.plugin` calls :func:`register_on_import` in every process verl starts. Each
registration is tied to the verl module that holds the registry (a post-import hook,
``wrapt.register_post_import_hook``): it runs the moment that module finishes importing, or at
once if it already has. A process that never imports a registry (a rollout server, the agent
loop) never pays for what fills it, which is most of an idle process's import time
(``docs/CPU_BACKEND.md``, "Start-up"). Anything that looks an estimator or a reward manager up
has imported the registry first, so the lookup always finds ours.

Methods from outside the package come from the modules ``main_ppo`` names in
``VERL_DSDR_METHOD_MODULES`` (``algorithm.method_modules``). Registering the same function again
is a no-op, so every function here is idempotent.
"""

from __future__ import annotations

from types import ModuleType

import wrapt

# The verl modules whose import triggers each registration (their registries: register_adv_est
# at verl/trainer/ppo/core_algos.py, the reward-loop manager's register in its package __init__).
ESTIMATOR_REGISTRY = "verl.trainer.ppo.core_algos"
REWARD_MANAGER_REGISTRY = "verl.experimental.reward_loop.reward_manager"


def register_estimators(core_algos: ModuleType | None = None) -> None:
    """Import the configured method modules, then register every method's estimator with verl."""
    if core_algos is None:
        from verl.trainer.ppo import core_algos as imported_core_algos

        core_algos = imported_core_algos

    from verl_dsdr.methods import METHODS, import_method_modules

    import_method_modules()
    for spec in METHODS.values():
        core_algos.register_adv_est(spec.name)(spec.advantage)


def register_reward_manager(_registry: ModuleType | None = None) -> None:
    """Import the configured method modules (their reward-side fields) and the ``dsdr`` manager."""
    from verl_dsdr.methods import import_method_modules

    import_method_modules()
    import verl_dsdr.glue.reward_manager  # noqa: F401  (registers reward-loop manager "dsdr")


def register_all() -> None:
    """Every registration now, importing the registries (tests, and anything that wants them eagerly)."""
    register_estimators()
    register_reward_manager()


def register_on_import() -> None:
    """Every registration, each when verl imports its registry in this process (or now, if it has)."""
    wrapt.register_post_import_hook(register_estimators, ESTIMATOR_REGISTRY)
    wrapt.register_post_import_hook(register_reward_manager, REWARD_MANAGER_REGISTRY)
