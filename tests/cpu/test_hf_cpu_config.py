"""The hf_cpu rollout server's thread count is a config key (engine_kwargs.hf_cpu); the old environment variable
still works, warned."""

import os
import warnings

import pytest
from omegaconf import OmegaConf

from verl_dsdr.config.hf_cpu import ENV_VAR, KEY_PREFIX, NAME, HFCPUSettings, hf_cpu_section, hf_cpu_settings
from verl_dsdr.cpu.rollout_names import ROLLOUT_NAME


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_default_is_two_threads_at_most_without_key_or_environment():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = hf_cpu_settings({})
    assert settings == HFCPUSettings(max(1, min(2, os.cpu_count() or 1)))
    assert hf_cpu_settings(None) == settings and hf_cpu_settings({"num_threads": None, "other": 1}) == settings


def test_the_key_sets_the_threads_and_a_string_from_the_command_line_counts_as_an_integer():
    assert hf_cpu_settings({"num_threads": 3}).num_threads == 3
    assert hf_cpu_settings({"num_threads": " 5 "}).num_threads == 5


@pytest.mark.parametrize(
    "value, message",
    [
        (0, "num_threads=0 is invalid: it must be an integer >= 1"),
        (-2, "num_threads=-2 is invalid"),
        (True, "num_threads=True is invalid"),
        (1.5, "num_threads=1.5 is invalid"),
        ("many", "num_threads='many' is not an integer"),
    ],
)
def test_bad_values_name_their_key(value, message):
    with pytest.raises(ValueError, match=f"{KEY_PREFIX}.{message}"):
        hf_cpu_settings({"num_threads": value})


def test_the_environment_variable_still_works_with_a_future_warning_naming_the_key(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "3")
    with pytest.warns(FutureWarning, match=f"set {KEY_PREFIX}.num_threads=3 instead"):
        assert hf_cpu_settings({}).num_threads == 3


def test_a_key_wins_over_the_environment_without_a_warning(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "7")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hf_cpu_settings({"num_threads": 1}).num_threads == 1


@pytest.mark.parametrize("raw", ["lots", "0"])
def test_a_bad_environment_value_names_the_key_to_use(monkeypatch, raw):
    monkeypatch.setenv(ENV_VAR, raw)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match=f"{ENV_VAR}='{raw}'.*set {KEY_PREFIX}"):
        hf_cpu_settings({})


def test_the_section_is_the_rollouts_engine_kwargs_under_its_registered_name():
    assert NAME == ROLLOUT_NAME and KEY_PREFIX == "actor_rollout_ref.rollout.engine_kwargs.hf_cpu"
    rollout = OmegaConf.create({"engine_kwargs": {"vllm": {}, "hf_cpu": {"num_threads": 4}}})
    assert hf_cpu_section(rollout) == {"num_threads": 4}
    assert hf_cpu_section(OmegaConf.create({"engine_kwargs": {"vllm": {}}})) == {}
    assert hf_cpu_section(OmegaConf.create({})) == {}
