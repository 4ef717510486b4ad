"""Config validation in the launching process: every bad value names its key and the fix."""

import pytest

from verl_dsdr.config_checks import ConfigError, check_config


@pytest.fixture(scope="module")
def good(compose_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cfg")
    for name in ("train.parquet", "val.parquet"):
        (folder / name).write_bytes(b"")
    (folder / "model").mkdir()
    return [
        f"data.train_files={folder / 'train.parquet'}",
        f"data.val_files={folder / 'val.parquet'}",
        f"actor_rollout_ref.model.path={folder / 'model'}",
        "actor_rollout_ref.rollout.n=4",
        "algorithm.adv_estimator=dsdr",
    ]


def test_defaults_are_the_papers_and_valid(compose_config, good):
    cfg = compose_config(*good)
    check_config(cfg)
    dsdr = cfg.algorithm.dsdr
    assert (dsdr.lambda_d, dsdr.lambda_l, dsdr.tau, dsdr.sigma_d, dsdr.semantic_weight) == (0.001, 0.001, 5.0, 1.0, 0.5)
    assert (dsdr.peers, dsdr.coupling, dsdr.entropy_estimator, dsdr.detach_ratio) == ("all", "softmax", "is", False)


@pytest.mark.parametrize(
    "override, key",
    [
        ("algorithm.dsdr.lambda_d=-0.1", "algorithm.dsdr.lambda_d"),
        ("algorithm.dsdr.lambda_l=-1", "algorithm.dsdr.lambda_l"),
        ("algorithm.dsdr.tau=0", "algorithm.dsdr.tau"),
        ("algorithm.dsdr.tau=-2", "algorithm.dsdr.tau"),
        ("algorithm.dsdr.sigma_d=0", "algorithm.dsdr.sigma_d"),
        ("algorithm.dsdr.semantic_weight=1.5", "algorithm.dsdr.semantic_weight"),
        ("algorithm.dsdr.coupling=sharp", "algorithm.dsdr.coupling"),
        ("algorithm.dsdr.entropy_estimator=exact", "algorithm.dsdr.entropy_estimator"),
        ("algorithm.dsdr.peers=some", "algorithm.dsdr.peers"),
        ("algorithm.dsdr.detach_ratio=maybe", "algorithm.dsdr.detach_ratio"),
        ("algorithm.dsdr.formulas.canonical=latex", "algorithm.dsdr.formulas.canonical"),
        ("algorithm.dsdr.formulas.time_limit=0", "algorithm.dsdr.formulas.time_limit"),
        ("algorithm.dsdr.embedder.model=/no/such/model/dir", "algorithm.dsdr.embedder.model"),
        ("algorithm.dsdr.embedder.chunking=median", "algorithm.dsdr.embedder.chunking"),
        ("algorithm.setpo.lambda_=-1", "algorithm.setpo.lambda_"),
        ("algorithm.asym_grpo.beta_pos=-0.5", "algorithm.asym_grpo.beta_pos"),
        ("actor_rollout_ref.rollout.n=1", "actor_rollout_ref.rollout.n"),
        ("actor_rollout_ref.model.path=/no/such/model", "actor_rollout_ref.model.path"),
        ("data.train_files=/no/such/train.parquet", "data.train_files"),
    ],
)
def test_bad_value_is_refused_with_its_key(compose_config, good, override, key):
    cfg = compose_config(*good, override)
    with pytest.raises(ConfigError) as error:
        check_config(cfg)
    assert key in str(error.value)


def test_misspelled_project_key_is_refused(compose_config, good):
    cfg = compose_config(*good, "+algorithm.dsdr.lamda_d=0.1")
    with pytest.raises(ConfigError, match="lamda_d"):
        check_config(cfg)


def test_single_rollout_is_fine_for_non_group_estimators(compose_config, good):
    cfg = compose_config(*good, "algorithm.adv_estimator=gae", "actor_rollout_ref.rollout.n=1")
    check_config(cfg)


def test_hub_model_ids_are_not_treated_as_missing_paths(compose_config, good):
    check_config(compose_config(*good, "actor_rollout_ref.model.path=Qwen/Qwen3-1.7B"))


def test_separate_async_is_refused_on_cpu_before_ray_with_the_reason(compose_config, good):
    cfg = compose_config(*good, "trainer.device=cpu", "trainer.v1.trainer_mode=separate_async")
    with pytest.raises(ConfigError, match="trainer.v1.trainer_mode") as error:
        check_config(cfg)
    assert "checkpoint engine" in str(error.value) and "colocate_async" in str(error.value)


@pytest.mark.parametrize("mode", ["sync", "colocate_async"])
def test_cpu_trainer_modes_pass(compose_config, good, mode):
    check_config(compose_config(*good, "trainer.device=cpu", f"trainer.v1.trainer_mode={mode}"))


def test_separate_async_passes_on_gpus(compose_config, good):
    check_config(compose_config(*good, "trainer.v1.trainer_mode=separate_async"))


@pytest.mark.parametrize(
    "override, message",
    [
        ("+reward.custom_reward_function.reward_kwargs.scoring_workers=0", "scoring_workers=0 is invalid"),
        ("+reward.custom_reward_function.reward_kwargs.scoring_workers=two", "scoring_workers='two' is not an integer"),
        ("+reward.custom_reward_function.reward_kwargs.scoring_memory_mb=-1", "scoring_memory_mb=-1 is invalid"),
        ("+reward.custom_reward_function.reward_kwargs.scoring_memory_mb=1.5", "scoring_memory_mb=1.5 is invalid"),
    ],
)
def test_scoring_pool_keys_are_checked_before_ray(compose_config, good, override, message, monkeypatch):
    monkeypatch.delenv("VERL_DSDR_SCORING_WORKERS", raising=False)
    with pytest.raises(ConfigError, match=f"reward.custom_reward_function.reward_kwargs.{message}"):
        check_config(compose_config(*good, override))


def test_the_cpu_preset_sizes_the_scoring_pool_by_its_key(compose_config, good, monkeypatch):
    from verl_dsdr.scoring.pool_config import reward_kwargs, scoring_pool

    monkeypatch.delenv("VERL_DSDR_SCORING_WORKERS", raising=False)
    cfg = compose_config(*good, "preset=cpu")
    check_config(cfg)
    assert scoring_pool(reward_kwargs(cfg)).scoring_workers == 2
    assert "VERL_DSDR_SCORING_WORKERS" not in cfg.ray_kwargs.ray_init.runtime_env.env_vars


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["preset=cpu", "actor_rollout_ref.rollout.engine_kwargs.hf_cpu.num_threads=0"], "num_threads=0 is invalid"),
        (
            ["actor_rollout_ref.rollout.name=hf_cpu", "++actor_rollout_ref.rollout.engine_kwargs.hf_cpu.num_threads=x"],
            "num_threads='x' is not an integer",
        ),
    ],
)
def test_hf_cpu_thread_count_is_checked_before_ray(compose_config, good, overrides, message, monkeypatch):
    monkeypatch.delenv("VERL_DSDR_CPU_THREADS", raising=False)
    with pytest.raises(ConfigError, match=f"actor_rollout_ref.rollout.engine_kwargs.hf_cpu.{message}"):
        check_config(compose_config(*good, *overrides))


def test_hf_cpu_thread_count_is_set_from_the_command_line(compose_config, good, monkeypatch):
    """With the CPU preset the key is in the config (a plain override); without it, ``++`` adds it."""
    from verl_dsdr.config.hf_cpu import hf_cpu_section, hf_cpu_settings

    monkeypatch.delenv("VERL_DSDR_CPU_THREADS", raising=False)
    for overrides in (
        ["preset=cpu", "actor_rollout_ref.rollout.engine_kwargs.hf_cpu.num_threads=3"],
        ["actor_rollout_ref.rollout.name=hf_cpu", "++actor_rollout_ref.rollout.engine_kwargs.hf_cpu.num_threads=3"],
    ):
        cfg = compose_config(*good, *overrides)
        check_config(cfg)
        assert hf_cpu_settings(hf_cpu_section(cfg.actor_rollout_ref.rollout)).num_threads == 3


def test_the_hf_cpu_key_is_checked_only_for_the_hf_cpu_rollout(compose_config, good, monkeypatch):
    monkeypatch.setenv("VERL_DSDR_CPU_THREADS", "none")  # would be refused (and warned) for hf_cpu
    check_config(compose_config(*good))
