"""DSDR and SetPO under verl's asynchronous trainer modes on CPU (verl's own trainer classes + the group trainer)."""

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("estimator", ["dsdr", "setpo"])
def test_colocate_async_trains_with_the_group_step(train, dsdr_colocate_full, estimator, assert_local_term_subtracted):
    # DSDR's colocate run is the two-node run, with the exact entropy estimator (conftest.py two_node_run).
    run = dsdr_colocate_full if estimator == "dsdr" else train(estimator, 2, "trainer.v1.trainer_mode=colocate_async")
    assert run.returncode == 0, run.tail()
    assert run.run_info["trainer"] == "GroupPPOTrainerColocateAsync"
    assert run.run_info["trainer_mode"] == "colocate_async"
    assert len(run.series("actor/grad_norm")) == 2 and max(run.series("actor/grad_norm")) > 0
    assert len(run.series("groups/frac_mixed")) == 2
    if estimator == "dsdr":
        assert len(run.series("dsdr/d_mean")) == 2 and max(run.series("dsdr/coupling_weight_max")) > 0
        assert_local_term_subtracted(run)
    else:
        assert len(run.series("setpo/contribution_mean")) == 2


def test_separate_async_is_refused_on_cpu_before_ray(train):
    run = train("dsdr", 2, "trainer.v1.trainer_mode=separate_async")
    assert run.returncode != 0
    assert "trainer.v1.trainer_mode='separate_async' cannot run on the CPU backend" in run.log
    assert "Started a local Ray instance" not in run.log and run.run_info == {} and run.metrics == []
