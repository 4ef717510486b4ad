"""Register verl-dsdr's methods and reward manager with verl's registries.

:mod:`verl_dsdr.plugin` calls :func:`register_on_import` in every process verl starts. Each
registration is tied to the verl module that holds the registry (:data:`ON_IMPORT`, run as
``wrapt.register_post_import_hook``s, the same form as :data:`verl_dsdr.cpu.patches.ON_IMPORT`):
it runs the moment that module finishes importing, or at once if it already has. A process that
never imports a registry never pays for what fills it (``docs/CPU_BACKEND.md``, "Start-up").
Anything that looks an estimator or a reward manager up has imported the registry first, so the
lookup always finds ours.

Methods from outside the package come from the modules ``main_ppo`` names in
``VERL_DSDR_METHOD_MODULES`` (``algorithm.method_modules``). Registering the same function again
is a no-op, so every function here is idempotent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import wrapt


def register_estimators(core_algos: ModuleType) -> None:
    """Import the configured method modules, then register every method's estimator with verl's
    ``register_adv_est`` (``verl/trainer/ppo/core_algos.py``)."""
    from verl_dsdr.methods import METHODS, import_method_modules

    import_method_modules()
    for spec in METHODS.values():
        core_algos.register_adv_est(spec.name)(spec.advantage)


def register_reward_manager(_registry: ModuleType) -> None:
    """Import the configured method modules (their reward-side fields) and the ``dsdr`` manager,
    which registers itself with the reward-loop manager's ``register`` (its package ``__init__``)."""
    from verl_dsdr.methods import import_method_modules

    import_method_modules()
    import verl_dsdr.glue.reward_manager  # noqa: F401  (registers reward-loop manager "dsdr")


# Each registration, with the verl module holding the registry it fills.
ON_IMPORT: tuple[tuple[str, Callable[[ModuleType], None]], ...] = (
    ("verl.trainer.ppo.core_algos", register_estimators),
    ("verl.experimental.reward_loop.reward_manager", register_reward_manager),
)


def register_all() -> None:
    """Every registration now, importing the registries (tests, and anything that wants them eagerly)."""
    for module, register in ON_IMPORT:
        register(importlib.import_module(module))


def register_on_import() -> None:
    """Every registration, each when verl imports its registry in this process (or now, if it has)."""
    for module, register in ON_IMPORT:
        wrapt.register_post_import_hook(register, module)
