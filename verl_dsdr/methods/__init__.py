"""verl-dsdr's methods: one :class:`~verl_dsdr.methods.base.Method` class per file, registered by name.

Every module of this folder other than the shared ones below is a method and is imported here,
so its ``@register_method`` runs: ``dsdr``, ``setpo``, ``asym_grpo``, and any file added next to
them (no edit here). Methods outside the package come from the modules named in
``algorithm.method_modules``. See :mod:`verl_dsdr.methods.registry`. Imports neither verl nor ray.
"""

import importlib
import pkgutil

from verl_dsdr.methods.base import GroupInputs, GroupStepResult, Method, RewardField
from verl_dsdr.methods.registry import (
    METHODS,
    import_method_modules,
    method,
    method_of,
    register_method,
    settings_of,
)

# What every method shares; every other module here is one method.
SHARED_MODULES = frozenset({"__main__", "base", "context", "estimating", "params", "registry", "wire"})

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in SHARED_MODULES:
        importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "METHODS",
    "SHARED_MODULES",
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
