"""Which ``WANDB_MODE`` a launched run gets: the user's choice first, never a silent drop.

verl creates a wandb run only when ``trainer.logger`` lists ``wandb``. A ``WANDB_MODE`` the user
set is kept as is. A run that asks for wandb gets wandb's own default (online after ``wandb
login``). Any other run gets ``offline``: nothing leaves the machine, and if wandb is switched
on from a config file instead of an override, the run is still recorded locally (``wandb sync``
uploads it later). ``scripts/lib/env.sh`` applies the same rule to the shell scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["asks_for_wandb", "wandb_mode_default"]


def asks_for_wandb(overrides: Sequence[str]) -> bool:
    """Whether a ``trainer.logger=...`` override (with or without ``+``/``++``) lists wandb."""
    for override in overrides:
        key, _, value = str(override).lstrip("+").partition("=")
        if key.strip() == "trainer.logger" and "wandb" in value:
            return True
    return False


def wandb_mode_default(overrides: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """``"offline"`` to set when the user chose nothing and the run does not ask for wandb, else ``None``."""
    if "WANDB_MODE" in environ or asks_for_wandb(overrides):
        return None
    return "offline"
