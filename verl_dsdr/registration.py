"""Register verl-dsdr's estimators and reward manager with verl's registries.

Called by :mod:`verl_dsdr.plugin` in every process. Each module registers at import, and
Python imports a module once per process, so this is idempotent.
"""


def register_all() -> None:
    from verl_dsdr.methods import register_estimators

    register_estimators()  # adv estimators of every method in verl_dsdr.methods.METHODS
    import verl_dsdr.glue.reward_manager  # noqa: F401  (reward-loop manager: dsdr)
