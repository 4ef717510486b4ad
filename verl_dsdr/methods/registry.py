"""The registry of methods: ``algorithm.adv_estimator`` value -> :class:`~verl_dsdr.methods.base.Method`.

Every other part asks here: the config checks (settings, minimum group size), ``main_ppo`` (which
reward manager, which verl keys), the reward manager (which fields), the group trainer (group
step, loss) and the registration (which estimators verl gets). Methods register themselves at
import with :func:`register_method`; modules outside the package are named in
``algorithm.method_modules`` and imported in every process (:func:`import_method_modules`).
Imports neither verl nor ray.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from verl_dsdr.methods.base import Method
from verl_dsdr.methods.params import ConfigError

METHODS: dict[str, Method] = {}

# How main_ppo hands algorithm.method_modules to every Ray process (the plugin reads it there).
METHOD_MODULES_ENV = "VERL_DSDR_METHOD_MODULES"

M = TypeVar("M", bound=type)


def register_method(name: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`Method` subclass as ``algorithm.adv_estimator=name``."""

    def decorator(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise TypeError(f"register_method({name!r}) decorates a Method subclass, got {cls!r}")
        known = METHODS.get(name)
        if known is not None and type(known).__qualname__ != cls.__qualname__:
            raise ValueError(f"method {name!r} is already registered by {type(known).__module__}")
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        if missing:  # before Ray starts, with what to add (Python's own message names no fix)
            raise TypeError(
                f"method {name!r} ({cls.__module__}.{cls.__qualname__}) does not define {', '.join(missing)}: "
                "a method needs at least its advantage estimator (see verl_dsdr.methods.Method)"
            )
        cls.name = name
        METHODS[name] = cls()
        return cls

    return decorator


def method(name: str) -> Method | None:
    """The method ``algorithm.adv_estimator=name``; None for verl's own estimators (grpo, gae, ...)."""
    return METHODS.get(name)


def method_of(config: Any) -> Method | None:
    """The method of a composed config's ``algorithm.adv_estimator``."""
    import_method_modules(_configured_modules(config))
    return method(str(config.algorithm.adv_estimator))


def settings_of(config: Any, spec: Method) -> Any:
    """The method's typed settings from the composed config (``algorithm.<name>``)."""
    return spec.build_settings(config.algorithm)


def _configured_modules(config: Any) -> list[str]:
    modules = config.algorithm.get("method_modules") if hasattr(config.algorithm, "get") else None
    return [str(m) for m in (modules or [])]


def import_method_modules(modules: Iterable[str] | None = None) -> list[str]:
    """Import the modules that register more methods: ``modules``, else the plugin's env variable."""
    if modules is None:
        modules = [m for m in os.environ.get(METHOD_MODULES_ENV, "").split(",") if m]
    names = list(modules)
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ConfigError(
                f"algorithm.method_modules names {name!r}, which cannot be imported ({error}): "
                "put the module on PYTHONPATH or fix the name"
            ) from None
    return names
