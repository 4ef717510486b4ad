"""Runs verl's real PPO trainer on CPU through `python -m verl_dsdr.main_ppo` (a subprocess per run)."""

import threading
import time

import pytest

from verl_dsdr.launch import RunResult, embedded_cpu_run, own_processes, run_training

SECOND_RUN_DELAY_S = 20


@pytest.fixture(scope="session")
def assets():
    from verl_dsdr.assets.build import build_assets

    return build_assets()


@pytest.fixture(scope="session")
def train(assets, tmp_path_factory):
    """`train(estimator, steps, *overrides)` -> RunResult of one real training run on CPU."""

    def _train(estimator: str, steps: int = 2, *overrides: str) -> RunResult:
        run = run_training(
            [*embedded_cpu_run(assets, estimator, steps), *overrides],
            tmp_path_factory.mktemp(f"run_{estimator}"),
        )
        assert not own_processes(run.token, run.ray_dir), "the run's processes were not all stopped"
        return run

    return _train


@pytest.fixture(scope="session")
def assert_local_term_subtracted():
    """verl logs the loss the actor back-propagated (``actor/loss``, summed over micro-batches) and its
    policy part (``actor/pg_loss``); with no KL loss and no entropy bonus they differ by exactly the local
    term the DSDR loss subtracted. Fails when the DSDR loss is not installed or drops the term."""

    def check(run: RunResult) -> None:
        loss, pg, local = run.series("actor/loss"), run.series("actor/pg_loss"), run.series("dsdr/local_term")
        assert len(loss) == len(pg) == len(local) > 0
        for total, policy, term in zip(loss, pg, local):
            assert term != 0
            assert total == pytest.approx(policy - term, rel=1e-4, abs=1e-7)

    return check


@pytest.fixture(scope="session")
def side_by_side(assets, tmp_path_factory):
    """Two runs at once, each with its own Ray: DSDR on two ranks (`trainer.n_gpus_per_node=2`, the
    only override) and, started 20 s later while the first is still running, GRPO on one rank.
    They are also the suite's plain `dsdr` and `grpo` runs (test_cpu_trainer.py), so sharing the
    machine costs the suite no extra run."""
    runs, errors = {}, []

    def go(name, overrides, delay):
        time.sleep(delay)
        try:
            runs[name] = run_training(overrides, tmp_path_factory.mktemp(name))
        except Exception as error:  # reported by the tests, not lost in the thread
            errors.append(error)

    plan = [
        ("two_ranks", [*embedded_cpu_run(assets, "dsdr", 2), "trainer.n_gpus_per_node=2"], 0),
        ("second", embedded_cpu_run(assets, "grpo", 2), SECOND_RUN_DELAY_S),
    ]
    threads = [threading.Thread(target=go, args=item) for item in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for run in runs.values():
        assert not own_processes(run.token, run.ray_dir), "the run's processes were not all stopped"
    return runs


@pytest.fixture(scope="session")
def dsdr_colocate_full(train):
    """DSDR under verl's colocate_async trainer with the exact (`full`) entropy estimator: one run
    for both settings (test_trainer_modes.py, test_cpu_trainer.py)."""
    return train("dsdr", 2, "trainer.v1.trainer_mode=colocate_async", "algorithm.dsdr.entropy_estimator=full")
