"""Register verl-dsdr's estimators and reward manager with verl's registries.

Called by :mod:`verl_dsdr.plugin` in every process. Each module registers at import, and
Python imports a module once per process, so this is idempotent.
"""


def register_all() -> None:
    import verl_dsdr.estimators  # noqa: F401  (adv estimators: dsdr, setpo, asym_grpo)
    import verl_dsdr.reward_manager  # noqa: F401  (reward-loop manager: dsdr)
