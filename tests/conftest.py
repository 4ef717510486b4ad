"""Suite-wide settings: offline hubs, caches under the repo, and no silent empty runs."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("VERL_DSDR_CACHE", str(REPO / ".cache" / "verl_dsdr"))
os.environ.setdefault("HF_HOME", str(REPO / ".cache" / "huggingface"))
os.environ.setdefault("MPLCONFIGDIR", str(REPO / ".cache" / "matplotlib"))
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(REPO / ".cache" / "torchinductor"))
for _key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_key, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")


def pytest_collection_finish(session):
    """An empty selection is a failure, never a green run (pytest's exit code 5 cannot happen)."""
    if not session.items:
        pytest.exit("no tests were collected or selected: the suite must run tests", returncode=1)
