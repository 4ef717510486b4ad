"""Importing verl from the package's entry point leaves no torch inductor folder in the temporary folder."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _import_verl_through_main_ppo(tmp_path: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", "import os, verl_dsdr.main_ppo, verl; print(os.environ['TORCHINDUCTOR_CACHE_DIR'])"],
        cwd=REPO,
        env={**base, "TMPDIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_inductor_cache_goes_to_the_checkouts_cache_not_the_temporary_folder(tmp_path):
    # Without the default, tensordict's import of torch._dynamo makes <TMPDIR>/torchinductor_<user>.
    assert _import_verl_through_main_ppo(tmp_path) == str(REPO / ".cache" / "torchinductor")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("torchinductor")]


def test_a_cache_folder_the_user_set_is_kept(tmp_path):
    mine = tmp_path / "mine"
    assert _import_verl_through_main_ppo(tmp_path, TORCHINDUCTOR_CACHE_DIR=str(mine)) == str(mine)
