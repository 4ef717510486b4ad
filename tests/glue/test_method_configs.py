"""Each method's typed settings: the one definition of keys, defaults and ranges, and the registry."""

import dataclasses
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from verl_dsdr.methods import METHODS, method
from verl_dsdr.methods.dsdr import DSDRConfig, local_term_note
from verl_dsdr.methods.params import ConfigError, build, defaults_tree, describe

# The package's own methods (a test file may register one more: tests/integration/test_new_method.py).
BUILTIN = {name: METHODS[name] for name in ("dsdr", "setpo", "asym_grpo")}

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ALGORITHM.md"


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_entry_yaml_holds_exactly_the_dataclass_defaults(compose_config, name):
    section = OmegaConf.to_container(compose_config().algorithm[name])
    assert section == defaults_tree(BUILTIN[name].config_cls)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_verls_config_machinery_builds_each_section(compose_config, name):
    from verl.utils.config import omega_conf_to_dataclass

    section = compose_config().algorithm[name]
    cls = BUILTIN[name].config_cls
    assert omega_conf_to_dataclass(section, cls) == cls()  # typed, as verl builds its own sections
    assert omega_conf_to_dataclass(section) == cls()  # through _target_, as verl's instantiate does
    assert build(cls, section) == cls()


def test_every_field_has_a_meaning_and_docs_name_it():
    text = DOCS.read_text()
    for spec in BUILTIN.values():
        for key, _default, allowed, _symbol, _eq, doc in describe(spec.config_cls):
            assert doc and allowed, key
            assert f"`{key}`" in text, f"docs/ALGORITHM.md does not map {key}"


def test_constructing_a_bad_value_in_python_names_the_key():
    with pytest.raises(ConfigError, match=r"algorithm\.dsdr\.tau"):
        DSDRConfig(tau=0.0)
    with pytest.raises(ConfigError, match=r"algorithm\.dsdr\.embedder\.batch_size"):
        build(DSDRConfig, {"embedder": {"batch_size": 0}})
    assert DSDRConfig(tau=2).tau == 2.0 and isinstance(DSDRConfig(tau=2).tau, float)


def test_registry_describes_what_each_method_needs():
    assert method("grpo") is None
    dsdr, setpo, asym = method("dsdr"), method("setpo"), method("asym_grpo")
    keys = {name: [f.key for f in m.reward_fields(m.config_cls())] for name, m in BUILTIN.items()}
    assert keys == {"dsdr": ["dsdr_formulas", "dsdr_embedding"], "setpo": ["dsdr_embedding"], "asym_grpo": []}
    assert (dsdr.loss is not None, setpo.loss, asym.loss) == (True, None, None)
    assert (dsdr.has_group_step, setpo.has_group_step, asym.has_group_step) == (True, True, False)
    assert (asym.needs_reward_extras, asym.group_step(None, None)) == (False, None)
    assert all(spec.min_group_size == 2 for spec in BUILTIN.values())


def test_registered_estimators_are_the_registry(compose_config):
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    from verl_dsdr.registration import register_all

    register_all()
    for name in BUILTIN:
        assert get_adv_estimator_fn(name) is BUILTIN[name].advantage


@pytest.mark.parametrize(
    "estimator, manager", [("dsdr", "dsdr"), ("setpo", "dsdr"), ("asym_grpo", "naive"), ("grpo", "naive")]
)
def test_main_ppo_asks_the_registry_for_the_reward_manager(compose_config, estimator, manager):
    from verl_dsdr.main_ppo import apply_method_settings

    config = compose_config(f"algorithm.adv_estimator={estimator}")
    apply_method_settings(config)
    assert config.reward.reward_manager.name == manager


def test_full_entropy_estimator_turns_on_the_lean_exact_path(compose_config):
    from verl_dsdr.main_ppo import apply_method_settings

    config = compose_config("algorithm.adv_estimator=dsdr", "algorithm.dsdr.entropy_estimator=full")
    apply_method_settings(config)
    actor = config.actor_rollout_ref.actor
    assert actor.calculate_entropy is True and config.actor_rollout_ref.model.use_fused_kernels is True
    assert actor.use_fused_kernels is True  # verl's actor section follows the model's switch
    plain = compose_config("algorithm.adv_estimator=dsdr")
    apply_method_settings(plain)
    assert plain.actor_rollout_ref.actor.calculate_entropy is False
    assert plain.actor_rollout_ref.model.use_fused_kernels is False


@pytest.mark.parametrize(
    "agg, says",
    [
        ("seq-mean-token-sum", True),
        ("token-sum", True),
        ("token-mean", False),
        ("seq-mean-token-mean", False),
        ("seq-mean-token-sum-norm", False),
    ],
)
def test_sum_type_loss_agg_modes_are_stated_at_start_up(compose_config, capsys, agg, says):
    from verl_dsdr.main_ppo import apply_method_settings

    config = compose_config("algorithm.adv_estimator=dsdr", f"actor_rollout_ref.actor.loss_agg_mode={agg}")
    apply_method_settings(config)
    out = capsys.readouterr().out
    assert (f"actor.loss_agg_mode={agg}" in out) is says
    if says:
        assert "seq-mean-token-mean" in out and "lambda_l" in out
    assert local_term_note(agg, 0.0, 100) is None  # lambda_l = 0: there is no local term to speak of


def test_settings_are_frozen_dataclasses():
    assert all(dataclasses.is_dataclass(spec.config_cls) for spec in BUILTIN.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        DSDRConfig().tau = 1.0  # type: ignore[misc]


def test_math_layer_takes_every_setting_without_a_default():
    """A setting's default is written once, in the typed settings: the pure functions have none, so a
    caller always passes the value (training passes the typed settings)."""
    import inspect

    from verl_dsdr import algorithms as alg

    settings = {
        alg.global_diversity: ["weight"],
        alg.clipped_diversity: ["sigma_d"],
        alg.shaped_rewards: ["lambda_d", "sigma_d"],
        alg.coupling_weights: ["tau", "sigma_d", "mode"],
        alg.local_entropy_tokens: ["detach_ratio"],
        alg.local_entropy: ["detach_ratio"],
        alg.setpo_shaped_advantages: ["lambda_"],
        alg.asym_grpo_advantages: ["beta_pos", "beta_neg", "threshold"],
    }
    for fn, names in settings.items():
        params = inspect.signature(fn).parameters
        with_default = [n for n in names if params[n].default is not inspect.Parameter.empty]
        assert with_default == [], f"{fn.__name__} gives {with_default} a default: take it from the typed settings"


def test_docs_tables_are_generated_from_the_dataclasses():
    """Each default and range is written once (the dataclass); docs/ALGORITHM.md's tables are rendered from it."""
    from verl_dsdr.methods.params import render_config_tables

    text = DOCS.read_text()
    rendered = render_config_tables(text, [m.config_cls for m in BUILTIN.values()])
    assert rendered == text, "run `python -m verl_dsdr.methods docs/ALGORITHM.md` to regenerate the config tables"
    assert "| `algorithm.dsdr.tau` | 5.0 | a finite number > 0 |" in text  # the renderer writes what it should


def test_setpo_encoder_has_its_own_key_and_the_old_one_still_works(compose_config):
    from verl_dsdr.methods import settings_of

    own = compose_config("algorithm.adv_estimator=setpo", "algorithm.setpo.embedder.batch_size=8")
    assert settings_of(own, method("setpo")).embedder.batch_size == 8
    old = compose_config("algorithm.adv_estimator=setpo", "algorithm.dsdr.embedder.batch_size=16")
    with pytest.warns(FutureWarning, match=r"algorithm\.setpo\.embedder\.batch_size"):
        assert settings_of(old, method("setpo")).embedder.batch_size == 16
    with pytest.raises(ConfigError, match=r"algorithm\.setpo\.embedder\.max_tokens"):
        settings_of(compose_config("algorithm.setpo.embedder.max_tokens=4"), method("setpo"))


def test_every_method_file_registers_itself():
    """A method file dropped into verl_dsdr/methods/ is found without editing methods/__init__.py."""
    import pkgutil

    import verl_dsdr.methods as methods

    files = {m.name for m in pkgutil.iter_modules(methods.__path__)} - methods.SHARED_MODULES
    assert set(BUILTIN) <= files
    registered_by = {type(m).__module__ for m in METHODS.values()}
    assert {f"verl_dsdr.methods.{name}" for name in files} <= registered_by  # each file registered a method
