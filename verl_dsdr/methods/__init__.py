"""verl-dsdr's methods: one :class:`~verl_dsdr.methods.base.Method` class per file, registered by name.

``dsdr``, ``setpo`` and ``asym_grpo`` are registered on import of this package; more come from
the modules named in ``algorithm.method_modules``. See :mod:`verl_dsdr.methods.registry`.
Imports neither verl nor ray.
"""

from verl_dsdr.methods import asym_grpo, dsdr, setpo  # noqa: E402,F401  (registers the built-in methods)
from verl_dsdr.methods.base import GroupInputs, GroupStepResult, Method, RewardField
from verl_dsdr.methods.registry import (
    METHODS,
    import_method_modules,
    method,
    method_of,
    register_method,
    settings_of,
)

__all__ = [
    "METHODS",
    "GroupInputs",
    "GroupStepResult",
    "Method",
    "RewardField",
    "import_method_modules",
    "method",
    "method_of",
    "register_method",
    "settings_of",
]
