"""The paper's run scripts, trained as written on CPU: ``VERL_DSDR_CPU_SMOKE=1 bash examples/<script>.sh``.

Each smoke run is the user's command itself (the script, its override list with only sizes,
steps, rollout backend and the CPU preset swapped, ``tests/examples`` checks which), on the
embedded assets, through ``verl_dsdr.launch.run_training``: 2 steps, validation before training
and at step 2, one checkpoint. The DSDR run's checkpoint is then resumed to step 3 with the same
command (``trainer.resume_mode=auto`` is the scripts' own setting).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from verl_dsdr.launch import own_processes, read_metrics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_S = 900


class ScriptRun:
    """One ``bash examples/<script>.sh`` smoke run and what it left in its run folder."""

    def __init__(self, script: str, smoke_dir: Path, *overrides: str):
        self.run_dir = smoke_dir / Path(script).stem
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("MODEL_PATH", "TRAIN_FILE", "VAL_FILES", "CKPT_DIR", "EXPERIMENT", "VERL_DSDR_DRY_RUN")
        }
        env.update(VERL_DSDR_CPU_SMOKE="1", SMOKE_DIR=str(smoke_dir), PYTHON=sys.executable)
        done = subprocess.run(
            ["bash", str(REPO / "examples" / script), *overrides],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=SMOKE_TIMEOUT_S,
        )
        self.returncode, self.output = done.returncode, done.stdout + done.stderr
        self.metrics = read_metrics(self.run_dir / "metrics.jsonl")
        self.command = json.loads((self.run_dir / "command.json").read_text())
        self.config = OmegaConf.load(self.run_dir / "hydra" / ".hydra" / "config.yaml")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def training_steps(self, metrics: list[dict] | None = None) -> list[int]:
        return [m["step"] for m in (metrics or self.metrics) if "training/global_step" in m]

    def series(self, key: str) -> list[float]:
        return [float(m[key]) for m in self.metrics if key in m]

    def validated_at(self) -> list[int]:
        return [m["step"] for m in self.metrics if any(k.startswith("val-core/") for k in m)]

    def leftover_processes(self) -> list[int]:
        ray_dir = next(a.split("=", 1)[1] for a in self.command if a.startswith("+ray_kwargs.ray_init._temp_dir="))
        return own_processes(Path(ray_dir).name, ray_dir)


@pytest.fixture(scope="module")
def smoke_dir(assets, tmp_path_factory) -> Path:
    """Where the smoke runs go; the session's ``assets`` fixture has built the embedded assets they use."""
    return tmp_path_factory.mktemp("smoke")


@pytest.fixture(scope="module")
def dsdr_smoke(smoke_dir) -> ScriptRun:
    return ScriptRun("dsdr_qwen3_1.7b.sh", smoke_dir)


@pytest.fixture(scope="module")
def dapo_smoke(smoke_dir) -> ScriptRun:
    return ScriptRun("dapo_qwen3_1.7b.sh", smoke_dir)


def assert_smoke_run_complete(run: ScriptRun) -> None:
    assert run.returncode == 0, run.tail()
    assert "smoke test passed" in run.output
    assert run.training_steps() == [1, 2]
    assert run.validated_at() == [0, 2]  # before training (the scripts' val_before_train) and at test_freq
    assert (run.run_dir / "global_step_2" / "actor").is_dir()
    assert (run.run_dir / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert max(run.series("actor/grad_norm")) > 0
    assert not run.leftover_processes(), "the smoke run's processes were not all stopped"


def test_dsdr_script_trains_on_cpu_with_its_own_settings(dsdr_smoke):
    assert_smoke_run_complete(dsdr_smoke)
    config = dsdr_smoke.config
    # The script's settings, not the CPU preset's defaults, trained.
    assert config.actor_rollout_ref.model.use_remove_padding is True
    assert config.actor_rollout_ref.model.enable_gradient_checkpointing is True
    assert config.actor_rollout_ref.actor.use_dynamic_bsz is True
    assert config.actor_rollout_ref.actor.clip_ratio_high == pytest.approx(0.28)
    assert (config.algorithm.dsdr.lambda_d, config.algorithm.dsdr.tau) == (0.001, 5.0)
    assert config.actor_rollout_ref.rollout.name == "hf_cpu"
    for key in ("dsdr/local_term", "dsdr/bonus_mean", "dsdr/coupling_weight_max"):
        assert len(dsdr_smoke.series(key)) == 2, key
    # Remove-padding with sdpa on CPU gives the rollout's log-probs (tests/cpu/test_remove_padding.py).
    assert max(dsdr_smoke.series("training/rollout_probs_diff_max")) < 1e-2


def test_dapo_script_trains_on_cpu_with_dynamic_sampling(dapo_smoke):
    assert_smoke_run_complete(dapo_smoke)
    config = dapo_smoke.config
    assert config.algorithm.filter_groups.enable is True
    assert config.reward.reward_manager.name == "dapo"
    assert config.reward.reward_kwargs.overlong_buffer_cfg.len == 12  # a quarter of the 48-token budget
    # Dynamic sampling keeps only groups whose accuracy is mixed.
    assert dapo_smoke.series("groups/frac_mixed") == [1.0, 1.0]


@pytest.fixture(scope="module")
def resumed(dsdr_smoke, smoke_dir) -> ScriptRun:
    assert dsdr_smoke.returncode == 0, dsdr_smoke.tail()
    return ScriptRun("dsdr_qwen3_1.7b.sh", smoke_dir, "trainer.total_training_steps=3")


def test_resume_continues_at_step_3_without_repeating_a_step(dsdr_smoke, resumed):
    assert resumed.returncode == 0, resumed.tail()
    assert resumed.training_steps() == [3], "the resumed run repeated or skipped a step"
    # The first attempt's metrics are kept beside the new file (examples/lib/common.sh).
    kept = sorted(resumed.run_dir.glob("metrics.until-*.jsonl"))
    assert len(kept) == 1 and resumed.training_steps(read_metrics(kept[0])) == [1, 2]
    assert (resumed.run_dir / "global_step_3" / "actor").is_dir()
    assert (resumed.run_dir / "latest_checkpointed_iteration.txt").read_text().strip() == "3"
    assert not resumed.leftover_processes()


def test_resumed_step_logs_the_same_metrics(dsdr_smoke, resumed):
    def keys_at(run: ScriptRun, step: int) -> set[str]:
        return next(set(m) for m in run.metrics if m["step"] == step and "training/global_step" in m)

    before, after = keys_at(dsdr_smoke, 2), keys_at(resumed, 3)
    assert before == after, f"only before: {sorted(before - after)}; only after: {sorted(after - before)}"
