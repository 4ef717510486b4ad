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
