"""verl's real trainer on CPU for each method, through `python -m verl_dsdr.main_ppo`.

The plain `grpo` and `dsdr` runs are the suite's side-by-side learning runs (conftest.py)."""

import pytest
from omegaconf import OmegaConf

pytestmark = pytest.mark.integration

# HF sampling and the FSDP actor compute the same float32 log-probs with different kernels and padding;
# measured differences are ~3e-4 in probability. 1e-2 flags a real mismatch (wrong weights, temperature).
PROBS_DIFF_TOLERANCE = 1e-2


@pytest.fixture(scope="module")
def grpo(side_by_side):
    return side_by_side["second"]  # GRPO, one rank, run beside the two-rank DSDR run (learning)


@pytest.fixture(scope="module")
def dsdr(side_by_side):
    return side_by_side["two_ranks"]  # DSDR on two ranks


def test_grpo_trains_on_cpu(grpo, learn_steps):
    assert grpo.returncode == 0, grpo.tail()
    assert len(grpo.series("actor/grad_norm")) == learn_steps
    assert max(grpo.series("actor/grad_norm")) > 0, "zero gradient: no mixed group in the batches"
    assert max(grpo.series("groups/frac_mixed")) > 0


def test_workers_run_on_the_cpu_platform(grpo):
    assert grpo.run_info["worker_platforms"] == ["cpu"]
    assert grpo.run_info["trainer"] == "GroupPPOTrainerSync" and grpo.run_info["trainer_mode"] == "sync"


def test_rollout_log_probs_agree_with_actor(grpo):
    diffs = grpo.series("training/rollout_probs_diff_max")
    assert diffs and max(diffs) < PROBS_DIFF_TOLERANCE


def test_dsdr_trains_with_its_metrics(dsdr, learn_steps, assert_local_term_subtracted):
    assert dsdr.returncode == 0, dsdr.tail()
    assert dsdr.run_info["trainer"] == "GroupPPOTrainerSync"
    for key in (
        "dsdr/d_mean",
        "dsdr/d_emb_mean",
        "dsdr/d_eq_mean",
        "dsdr/d_correct_mean",
        "dsdr/bonus_mean",
        "groups/frac_all_correct",
        "groups/frac_all_wrong",
        "dsdr/coupling_weight_entropy",
        "dsdr/local_term",
        "dsdr/entropy_correct",
        "dsdr/entropy_incorrect",
        "dsdr/diversity_time_trainer_s",
    ):
        assert len(dsdr.series(key)) == learn_steps, key
    assert max(dsdr.series("dsdr/coupling_weight_max")) > 0, "no non-zero coupling weight"
    assert max(abs(v) for v in dsdr.series("dsdr/local_term")) > 0
    assert max(dsdr.series("actor/grad_norm")) > 0
    assert_local_term_subtracted(dsdr)


# SetPO trains under colocate_async in test_trainer_modes.py (the same group trainer as sync);
# AsymGRPO in the suite's saving run, with a reference model (conftest.py `asym_kl_saving`).
def test_asym_grpo_trains(asym_kl_saving):
    run = asym_kl_saving.run
    assert run.returncode == 0, run.tail()
    assert OmegaConf.load(run.run_dir / "hydra" / ".hydra" / "config.yaml").algorithm.adv_estimator == "asym_grpo"
    assert len(run.series("actor/grad_norm")) == asym_kl_saving.steps
    assert max(run.series("actor/grad_norm")) > 0


def test_dsdr_full_entropy_estimator_trains(dsdr_colocate_full, assert_local_term_subtracted):
    run = dsdr_colocate_full
    assert run.returncode == 0, run.tail()
    assert max(abs(v) for v in run.series("dsdr/local_term")) > 0
    assert run.series("actor/entropy_loss")  # verl computed the model's entropy for the exact estimator
    assert_local_term_subtracted(run)


def test_invalid_config_stops_before_ray(train):
    run = train("dsdr", 2, "algorithm.dsdr.tau=0")
    assert run.returncode != 0
    assert "algorithm.dsdr.tau" in run.log and "ray init kwargs" not in run.log
    # Refused before Ray or the trainer started: no Ray instance, no trainer, no step.
    assert "Started a local Ray instance" not in run.log and "[verl_dsdr] trainer" not in run.log
    assert run.run_info == {} and run.metrics == []
