"""The registry of verl-dsdr's methods: one :class:`MethodSpec` per ``algorithm.adv_estimator`` value.

Every other place asks here: the config checks (settings, minimum group size), ``main_ppo``
(which reward manager, which actor settings), the reward manager (embeddings? formulas?),
the group trainer (group step, loss) and the plugin (which estimators to register). A new
method is a folder ``methods/<name>/`` (config, estimator, optional group step and loss) and
one line here. Imports neither verl nor ray.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Optional

from verl_dsdr.methods import asym_grpo, dsdr, setpo
from verl_dsdr.methods.base import MethodSpec

METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (dsdr.SPEC, setpo.SPEC, asym_grpo.SPEC)}


def method(name: str) -> Optional[MethodSpec]:
    """The spec of ``algorithm.adv_estimator=name``; None for verl's own estimators (grpo, gae, ...)."""
    return METHODS.get(name)


def method_of(config: Any) -> Optional[MethodSpec]:
    """The spec of a composed config's ``algorithm.adv_estimator``."""
    return method(str(config.algorithm.adv_estimator))


def settings_of(config: Any, spec: MethodSpec) -> Any:
    """The method's typed settings from the composed config (``algorithm.<name>``)."""
    from verl_dsdr.methods.params import build

    return build(spec.config_cls, config.algorithm.get(spec.name))


def load(target: str) -> Callable:
    """``"module:function"`` -> the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def register_estimators() -> None:
    """Register every method's estimator with verl (imports verl; idempotent)."""
    for spec in METHODS.values():
        importlib.import_module(spec.estimator_module)
