"""Environment variables that were configuration before they became config keys (deprecated)."""

from __future__ import annotations

import os
import warnings

__all__ = ["deprecated_int_env"]


def deprecated_int_env(name: str, key: str) -> int | None:
    """The integer in the deprecated environment variable ``name``; None when it is unset or blank.

    Warns (``FutureWarning``, pointing at the caller's caller) that the config key ``key`` replaces
    it, and refuses a value that is not an integer, naming ``key``. What a value means (its range,
    0 or negative) is the caller's.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    warnings.warn(
        f"{name} is deprecated: set {key}={raw} instead (the environment variable is read only while the key is unset)",
        FutureWarning,
        stacklevel=3,
    )
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer; set {key} instead") from None
