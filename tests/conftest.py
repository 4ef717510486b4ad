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


# Test files whose tests share session-scoped verl runs (tests/integration/conftest.py: `side_by_side`
# is also test_cpu_trainer.py's plain dsdr and grpo runs, `dsdr_colocate_full` serves
# test_cpu_trainer.py and test_trainer_modes.py). scripts/test.sh runs the suite on two pytest-xdist
# workers with --dist loadgroup: each of these groups stays on one worker, so no run is made twice.
SHARED_RUN_FILES = ("test_cpu_trainer.py", "test_lean_backend.py", "test_trainer_modes.py")


def pytest_collection_modifyitems(config, items):
    """Keep every integration file's tests on one xdist worker (their module fixtures are verl runs),
    and the files that share session-scoped runs together."""
    for item in items:
        if item.get_closest_marker("integration") is None:
            continue
        name = item.path.name
        group = "shared-runs" if item.path.parent.name == "integration" and name in SHARED_RUN_FILES else name
        item.add_marker(pytest.mark.xdist_group(group))
