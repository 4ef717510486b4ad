"""Runs verl's real PPO trainer on CPU through `python -m verl_dsdr.main_ppo` (a subprocess per run)."""

import pytest

from verl_dsdr.launch import RunResult, embedded_cpu_run, own_processes, run_training


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
