"""A user's logging choice reaches verl: WANDB_MODE is only defaulted when the user chose nothing."""

import os
import subprocess
from pathlib import Path

import pytest

from verl_dsdr.utils.tracking import asks_for_wandb, wandb_mode_default

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "overrides, asked",
    [
        (["trainer.logger=[console,wandb]"], True),
        (["+trainer.logger=['console','wandb']"], True),
        (["trainer.logger=[console,file]"], False),
        (["trainer.project_name=wandb_project"], False),  # "wandb" elsewhere is not a logger choice
        ([], False),
    ],
)
def test_asks_for_wandb(overrides, asked):
    assert asks_for_wandb(overrides) is asked


def test_default_only_when_user_chose_nothing():
    assert wandb_mode_default([], {}) == "offline"
    assert wandb_mode_default(["trainer.logger=[console,wandb]"], {}) is None  # wandb's own default
    assert wandb_mode_default([], {"WANDB_MODE": "online"}) is None  # the user's choice is kept
    assert wandb_mode_default([], {"WANDB_MODE": ""}) is None


def _env_sh_wandb_mode(args, wandb_mode=None):
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    if wandb_mode is not None:
        env["WANDB_MODE"] = wandb_mode
    script = 'source scripts/lib/env.sh "$@"; echo "${WANDB_MODE-<unset>}"'
    out = subprocess.run(
        ["bash", "-c", script, "bash", *args], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


def test_env_sh_keeps_the_users_choice():
    assert _env_sh_wandb_mode([]) == "offline"
    assert _env_sh_wandb_mode(["trainer.logger=[console,wandb]"]) == "<unset>"
    assert _env_sh_wandb_mode([], wandb_mode="online") == "online"
    assert _env_sh_wandb_mode(["trainer.logger=[console,file]"], wandb_mode="disabled") == "disabled"
