"""Fixtures for tests of the verl glue (they import verl, never start Ray)."""

import pytest
from hydra import compose, initialize_config_module


@pytest.fixture(scope="session")
def compose_config():
    """Compose verl-dsdr's full entry config (verl's packaged config + ours) with overrides."""

    def _compose(*overrides: str):
        with initialize_config_module(config_module="verl_dsdr.config", version_base=None):
            return compose("dsdr_ppo", overrides=list(overrides))

    return _compose
