"""The verifier pool's settings are config keys (reward kwargs); the old environment variables still work, warned."""

import warnings

import pytest

from verl_dsdr.scoring import bounded
from verl_dsdr.scoring.pool_config import ENV_VARS, KEY_PREFIX, ScoringPool, reward_kwargs, scoring_pool


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for name in ENV_VARS.values():
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fresh_shared(monkeypatch):
    """The module's shared pool and its configuration, reset for the test and closed after it."""
    monkeypatch.setattr(bounded, "_shared", None)
    monkeypatch.setattr(bounded, "_configured", None)
    yield
    if bounded._shared is not None:
        bounded._shared.close()


def test_defaults_without_keys_or_environment():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pool = scoring_pool({})
    assert pool == ScoringPool() and (pool.scoring_workers, pool.memory_limit_mb) == (4, 4096)
    assert scoring_pool(None) == pool and scoring_pool({"time_limit": 2.0, "scoring_workers": None}) == pool


def test_keys_set_the_pool_and_strings_from_the_command_line_count_as_integers():
    assert scoring_pool({"scoring_workers": 2, "scoring_memory_mb": 0}) == ScoringPool(2, 0)
    assert scoring_pool({"scoring_workers": "3"}).scoring_workers == 3
    assert ScoringPool(scoring_memory_mb=0).memory_limit_mb is None  # 0 disables the limit


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scoring_workers": 0}, "scoring_workers=0 is invalid: it must be an integer >= 1"),
        ({"scoring_workers": True}, "scoring_workers=True is invalid"),
        ({"scoring_workers": 2.5}, "scoring_workers=2.5 is invalid"),
        ({"scoring_workers": "many"}, "scoring_workers='many' is not an integer"),
        ({"scoring_memory_mb": -5}, "scoring_memory_mb=-5 is invalid: it must be an integer >= 0"),
    ],
)
def test_bad_values_name_their_key(kwargs, message):
    with pytest.raises(ValueError, match=f"{KEY_PREFIX}.{message}"):
        scoring_pool(kwargs)


def test_environment_variables_still_work_with_a_future_warning_naming_the_key(monkeypatch):
    monkeypatch.setenv("VERL_DSDR_SCORING_WORKERS", "3")
    monkeypatch.setenv("VERL_DSDR_SCORING_MEMORY_MB", "1024")
    with pytest.warns(FutureWarning) as caught:
        pool = scoring_pool({})
    assert pool == ScoringPool(3, 1024)
    texts = [str(w.message) for w in caught]
    assert any(f"set {KEY_PREFIX}.scoring_workers=3 instead" in t for t in texts)
    assert any(f"set {KEY_PREFIX}.scoring_memory_mb=1024 instead" in t for t in texts)


def test_environment_keeps_its_old_meaning_of_zero(monkeypatch):
    monkeypatch.setenv("VERL_DSDR_SCORING_WORKERS", "0")  # 0 always meant: the default
    monkeypatch.setenv("VERL_DSDR_SCORING_MEMORY_MB", "0")  # and here: no limit
    with pytest.warns(FutureWarning):
        pool = scoring_pool({})
    assert (pool.scoring_workers, pool.memory_limit_mb) == (4, None)


def test_a_key_wins_over_the_environment_without_a_warning(monkeypatch):
    monkeypatch.setenv("VERL_DSDR_SCORING_WORKERS", "7")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scoring_pool({"scoring_workers": 2, "scoring_memory_mb": 512}) == ScoringPool(2, 512)


def test_a_bad_environment_value_names_the_key_to_use(monkeypatch):
    monkeypatch.setenv("VERL_DSDR_SCORING_MEMORY_MB", "lots")
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=f"set {KEY_PREFIX}.scoring_memory_mb"):
        scoring_pool({})


def test_reward_kwargs_are_read_from_the_composed_config():
    from omegaconf import OmegaConf

    config = OmegaConf.create({"reward": {"custom_reward_function": {"reward_kwargs": {"scoring_workers": 2}}}})
    assert scoring_pool(reward_kwargs(config)) == ScoringPool(2, 4096)
    assert reward_kwargs(OmegaConf.create({"reward": {"custom_reward_function": {"path": None}}})) == {}
    assert reward_kwargs(OmegaConf.create({"reward": {}})) == {}


def test_the_shared_runner_takes_the_configured_size_and_is_replaced_when_it_changes(fresh_shared):
    bounded.configure_scoring(ScoringPool(3, 0))
    first = bounded.scoring_runner()  # workers start on demand: none has started yet
    assert (first.workers, first.memory_limit_mb) == (3, None)
    bounded.configure_scoring(ScoringPool(3, 0))
    assert bounded.scoring_runner() is first  # the same settings keep the running pool
    bounded.configure_scoring(ScoringPool(2, 2048))
    assert first.closed
    second = bounded.scoring_runner()
    assert (second.workers, second.memory_limit_mb) == (2, 2048)


def test_an_unconfigured_process_reads_the_environment(fresh_shared, monkeypatch):
    monkeypatch.setenv("VERL_DSDR_SCORING_WORKERS", "1")
    with pytest.warns(FutureWarning, match=f"{KEY_PREFIX}.scoring_workers"):
        runner = bounded.scoring_runner()
    assert runner.workers == 1


def test_compute_score_sizes_the_pool_from_verls_reward_kwargs(fresh_shared):
    from verl_dsdr.scoring.correctness import compute_score

    # an exact match is scored without the pool; the kwargs verl merges in configure it all the same
    result = compute_score("math", r"\boxed{4}", "4", scoring_workers=2, scoring_memory_mb=1024)
    assert result["score"] == 1.0
    assert bounded._configured == ScoringPool(2, 1024)
    compute_score("math", r"\boxed{4}", "4")  # e.g. the reward manager's warm-up: the pool stays as configured
    assert bounded._configured == ScoringPool(2, 1024)
    with pytest.raises(ValueError, match=f"{KEY_PREFIX}.scoring_workers=0"):
        compute_score("math", r"\boxed{4}", "4", scoring_workers=0)
