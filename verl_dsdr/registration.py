"""Register verl-dsdr's methods and reward manager with verl's registries.

Called by :mod:`verl_dsdr.plugin` in every process. Methods from outside the package come from
the modules ``main_ppo`` names in ``VERL_DSDR_METHOD_MODULES`` (``algorithm.method_modules``).
Every method's estimator is registered with verl's ``register_adv_est`` under its name;
registering the same function again is a no-op, so this is idempotent.
"""


def register_all() -> None:
    """Import the configured method modules, then register every method's estimator and the ``dsdr`` manager."""
    from verl.trainer.ppo.core_algos import register_adv_est

    from verl_dsdr.methods import METHODS, import_method_modules

    import_method_modules()
    for spec in METHODS.values():
        register_adv_est(spec.name)(spec.advantage)
    import verl_dsdr.glue.reward_manager  # noqa: F401  (reward-loop manager: dsdr)
