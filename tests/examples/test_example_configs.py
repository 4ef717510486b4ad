"""Every run script in examples/ composes into a config that verl-dsdr and verl accept.

Each script is run with ``VERL_DSDR_DRY_RUN=1`` (it prints its final override list and exits),
the list is composed with Hydra exactly as ``python -m verl_dsdr.main_ppo`` composes it, and the
result goes through the checks the launcher runs before Ray starts: verl-dsdr's
``check_config`` and ``apply_method_settings``, verl's ``validate_config`` (which builds the
actor dataclass), and the dataclasses verl builds later on the workers (rollout, algorithm,
filter groups) plus the reward manager the run selects. No training, no Ray, no model.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf

from verl_dsdr.config_checks import ConfigError, check_config
from verl_dsdr.main_ppo import apply_method_settings

pytestmark = pytest.mark.filterwarnings("ignore:Disabled critic:UserWarning")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.sh"))
BENCHMARKS = ("aime24", "aime25", "math500", "minerva", "olympiadbench")
PROJECT_ALGORITHM_KEYS = ("dsdr", "setpo", "asym_grpo", "method_modules")

# The runs the brief and the paper's Table 1 ask for; more scripts are welcome, fewer are a failure.
REQUIRED_SCRIPTS = {
    "dsdr_qwen2.5_math_1.5b.sh",
    "dsdr_qwen3_1.7b.sh",
    "dsdr_qwen3_4b.sh",
    "grpo_qwen3_1.7b.sh",
    "dapo_qwen3_1.7b.sh",
    "dsdr_wo_gd_qwen3_1.7b.sh",
    "dsdr_wo_gc_qwen3_1.7b.sh",
    "dsdr_wo_gc_noent_qwen3_1.7b.sh",
    "setpo_qwen3_1.7b.sh",
    "asym_grpo_qwen3_1.7b.sh",
}

# Paper (Sec. 4.1): max response 4096 for Qwen2.5-Math-1.5B, 8192 for Qwen3.
MODELS = {"qwen2.5_math_1.5b": 4096, "qwen3_1.7b": 8192, "qwen3_4b": 8192}

# Expected method settings per script prefix: (key, value) pairs read from the composed config.
DSDR_BEST = {
    "algorithm.adv_estimator": "dsdr",
    "algorithm.dsdr.lambda_d": 0.001,
    "algorithm.dsdr.lambda_l": 0.001,
    "algorithm.dsdr.tau": 5.0,
    "algorithm.dsdr.coupling": "softmax",
}
CLIP_HIGHER = {"actor_rollout_ref.actor.clip_ratio_low": 0.2, "actor_rollout_ref.actor.clip_ratio_high": 0.28}
NO_DYNAMIC_SAMPLING = {"algorithm.filter_groups.enable": False}
METHODS = {
    "dsdr": {**DSDR_BEST, **CLIP_HIGHER, **NO_DYNAMIC_SAMPLING, "reward.reward_manager.name": "dsdr"},
    "dsdr_wo_gd": {**DSDR_BEST, "algorithm.dsdr.lambda_d": 0.0, **CLIP_HIGHER, **NO_DYNAMIC_SAMPLING},
    "dsdr_wo_gc": {**DSDR_BEST, "algorithm.dsdr.coupling": "uniform", **CLIP_HIGHER, **NO_DYNAMIC_SAMPLING},
    "dsdr_wo_gc_noent": {**DSDR_BEST, "algorithm.dsdr.lambda_l": 0.0, **CLIP_HIGHER, **NO_DYNAMIC_SAMPLING},
    "grpo": {
        "algorithm.adv_estimator": "grpo",
        "actor_rollout_ref.actor.clip_ratio_low": 0.2,
        "actor_rollout_ref.actor.clip_ratio_high": 0.2,
        **NO_DYNAMIC_SAMPLING,
        "reward.reward_manager.name": "naive",
    },
    "dapo": {
        "algorithm.adv_estimator": "grpo",
        **CLIP_HIGHER,
        "algorithm.filter_groups.enable": True,
        "algorithm.filter_groups.metric": "acc",
        "reward.reward_manager.name": "dapo",
        "reward.reward_kwargs.overlong_buffer_cfg.enable": True,
        "reward.reward_kwargs.overlong_buffer_cfg.penalty_factor": 1.0,
    },
    "setpo": {
        "algorithm.adv_estimator": "setpo",
        "algorithm.setpo.lambda_": 1.0,
        "algorithm.setpo.correct_only": False,
        **CLIP_HIGHER,
        **NO_DYNAMIC_SAMPLING,
    },
    "asym_grpo": {
        "algorithm.adv_estimator": "asym_grpo",
        "algorithm.asym_grpo.beta_pos": 0.9,
        "algorithm.asym_grpo.beta_neg": 0.4,
        **CLIP_HIGHER,
        **NO_DYNAMIC_SAMPLING,
    },
}

# What every run shares: the paper's setup and the documented choices (lib/common.sh).
SHARED = {
    "data.train_batch_size": 256,
    "actor_rollout_ref.rollout.n": 8,
    "actor_rollout_ref.actor.ppo_mini_batch_size": 16,
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "actor_rollout_ref.rollout.temperature": 1.0,
    "actor_rollout_ref.rollout.name": "vllm",
    "actor_rollout_ref.rollout.val_kwargs.n": 16,
    "actor_rollout_ref.rollout.val_kwargs.temperature": 0.7,
    "actor_rollout_ref.rollout.val_kwargs.top_p": 0.9,
    "actor_rollout_ref.rollout.val_kwargs.do_sample": True,
    "actor_rollout_ref.actor.use_kl_loss": False,
    "algorithm.use_kl_in_reward": False,
    "actor_rollout_ref.actor.loss_agg_mode": "token-mean",
    "actor_rollout_ref.actor.entropy_coeff": 0,
    "trainer.total_training_steps": 120,
    "trainer.nnodes": 1,
    "trainer.n_gpus_per_node": 8,
}

SCRIPT_NAME = re.compile(r"^(?P<method>.+)_(?P<model>" + "|".join(re.escape(m) for m in MODELS) + r")\.sh$")


def _split_name(script: Path) -> tuple[str, str]:
    match = SCRIPT_NAME.match(script.name)
    assert match, f"{script.name}: name it <method>_<model>.sh with a model in {sorted(MODELS)}"
    assert match["method"] in METHODS, (
        f"{script.name}: method {match['method']!r} has no expectations here: add it to METHODS"
    )
    return match["method"], match["model"]


@pytest.fixture(scope="module")
def run_env(tmp_path_factory) -> dict[str, str]:
    """Environment for a dry run: dummy paths that exist (the scripts and check_config require it)."""
    root = tmp_path_factory.mktemp("example_paths")
    (root / "model").mkdir()
    data = root / "data"
    data.mkdir()
    (data / "train.parquet").write_bytes(b"")
    for name in BENCHMARKS:
        (data / f"{name}.parquet").write_bytes(b"")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NNODES", "GPUS_PER_NODE", "EXPERIMENT", "LOGGERS", "PYTHON", "VERL_DSDR_DRY_RUN")
    }
    env.update(
        MODEL_PATH=str(root / "model"),
        TRAIN_FILE=str(data / "train.parquet"),
        VAL_FILES=",".join(str(data / f"{name}.parquet") for name in BENCHMARKS),
        CKPT_DIR=str(root / "ckpt"),
        VERL_DSDR_DRY_RUN="1",
    )
    return env


def run_script(script: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *extra], env=env, capture_output=True, text=True, timeout=60)


def dry_run(script: Path, env: dict[str, str], *extra: str) -> list[str]:
    """The overrides the script would pass to ``python -m verl_dsdr.main_ppo``."""
    result = run_script(script, env, *extra)
    assert result.returncode == 0, f"{script.name} dry run failed:\n{result.stderr}"
    overrides = [line for line in result.stdout.splitlines() if line]
    assert overrides, f"{script.name} printed no overrides"
    return overrides


def compose_config(overrides: list[str]) -> DictConfig:
    """Compose like ``python -m verl_dsdr.main_ppo`` does (struct mode: unknown keys are errors)."""
    with initialize_config_module(config_module="verl_dsdr.config", version_base=None):
        config = compose("dsdr_ppo", overrides=overrides)
    OmegaConf.set_struct(config, True)
    return config


def launcher_checks(config: DictConfig) -> None:
    """The checks ``verl_dsdr.main_ppo.run`` makes before Ray, plus the dataclasses verl builds later."""
    from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    from verl_dsdr.registration import register_all

    check_config(config)
    apply_method_settings(config)
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    rollout = omega_conf_to_dataclass(config.actor_rollout_ref.rollout)
    assert rollout.val_kwargs.n == config.actor_rollout_ref.rollout.val_kwargs.n
    # verl's AlgoConfig rejects unknown keys, so check everything but the project's own sections.
    verl_keys = [key for key in config.algorithm if key not in PROJECT_ALGORITHM_KEYS]
    omega_conf_to_dataclass(OmegaConf.masked_copy(config.algorithm, verl_keys))
    register_all()
    manager_cls = get_reward_manager_cls(config.reward.reward_manager.name)
    if config.reward.reward_manager.name == "dapo":
        # Builds verl's DAPO manager from reward.reward_kwargs: its own checks of the overlong buffer.
        from verl_dsdr.scoring.correctness import compute_score

        manager = manager_cls(config, None, compute_score)
        assert manager.overlong_buffer_cfg.enable and manager.max_resp_len == config.data.max_response_length


_ABSENT = object()


def select(config: DictConfig, key: str):
    value = OmegaConf.select(config, key, default=_ABSENT)
    assert value is not _ABSENT, f"{key} is missing from the composed config"
    return value


def test_examples_exist():
    assert SCRIPTS, f"no run scripts found in {EXAMPLES}"
    missing = REQUIRED_SCRIPTS - {s.name for s in SCRIPTS}
    assert not missing, f"missing run scripts: {sorted(missing)}"
    for script in SCRIPTS:
        _split_name(script)
        assert os.access(script, os.X_OK), f"{script.name} is not executable (chmod +x)"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_script_composes_and_passes_checks(script: Path, run_env):
    method, model = _split_name(script)
    overrides = dry_run(script, run_env)
    config = compose_config(overrides)
    launcher_checks(config)

    expected = {**SHARED, **METHODS[method]}
    expected["data.max_response_length"] = MODELS[model]
    expected["trainer.experiment_name"] = script.stem
    for key, value in expected.items():
        actual = select(config, key)
        if isinstance(value, float):
            assert actual == pytest.approx(value), f"{script.name}: {key}={actual}, expected {value}"
        else:
            assert actual == value, f"{script.name}: {key}={actual!r}, expected {value!r}"
    assert list(config.data.val_files) == run_env["VAL_FILES"].split(",")
    assert config.data.train_files == run_env["TRAIN_FILE"]
    assert config.actor_rollout_ref.model.path == run_env["MODEL_PATH"]
    assert config.trainer.default_local_dir == os.path.join(run_env["CKPT_DIR"], script.stem)
    if model.startswith("qwen3"):
        assert config.data.apply_chat_template_kwargs.enable_thinking is False
    if method == "dapo":
        # DAPO's soft overlong punishment over the last quarter of the budget: 8192 / 4 = 2048, 4096 / 4 = 1024.
        assert config.reward.reward_kwargs.overlong_buffer_cfg.len == MODELS[model] // 4
    else:
        assert "reward_kwargs" not in config.reward


def test_extra_overrides_pass_through_and_win(run_env):
    script = EXAMPLES / "dsdr_qwen3_1.7b.sh"
    overrides = dry_run(script, run_env, "trainer.total_training_steps=5", "algorithm.dsdr.tau=1.0")
    config = compose_config(overrides)
    check_config(config)
    assert config.trainer.total_training_steps == 5
    assert config.algorithm.dsdr.tau == 1.0


def test_multi_node_and_experiment_from_environment(run_env):
    env = {**run_env, "NNODES": "2", "GPUS_PER_NODE": "4", "EXPERIMENT": "dsdr-2x4"}
    config = compose_config(dry_run(EXAMPLES / "dsdr_qwen3_1.7b.sh", env))
    launcher_checks(config)
    assert (config.trainer.nnodes, config.trainer.n_gpus_per_node) == (2, 4)
    assert config.trainer.experiment_name == "dsdr-2x4"
    assert config.trainer.default_local_dir == os.path.join(run_env["CKPT_DIR"], "dsdr-2x4")


def test_relative_paths_become_absolute(run_env):
    """Ray workers do not run in the caller's folder: every local path is passed absolute."""
    root = Path(run_env["CKPT_DIR"]).parent
    relative = {
        "MODEL_PATH": "model",
        "TRAIN_FILE": "./data/train.parquet",
        "VAL_FILES": "data/aime24.parquet, data/math500.parquet",
        "CKPT_DIR": "ckpt",
    }
    result = subprocess.run(
        ["bash", str(EXAMPLES / "grpo_qwen3_1.7b.sh")],
        env={**run_env, **relative},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config = compose_config(result.stdout.splitlines())
    assert config.actor_rollout_ref.model.path == str(root / "model")
    assert config.data.train_files == str(root / "data" / "train.parquet")
    assert list(config.data.val_files) == [
        str(root / "data" / "aime24.parquet"),
        str(root / "data" / "math500.parquet"),
    ]
    assert config.trainer.default_local_dir == str(root / "ckpt" / "grpo_qwen3_1.7b")


def test_hub_model_id_is_kept(run_env):
    config = compose_config(dry_run(EXAMPLES / "grpo_qwen3_1.7b.sh", {**run_env, "MODEL_PATH": "Qwen/Qwen3-1.7B"}))
    assert config.actor_rollout_ref.model.path == "Qwen/Qwen3-1.7B"


def test_misspelled_override_is_rejected(run_env):
    script = EXAMPLES / "dsdr_qwen3_1.7b.sh"
    for typo in ("actor_rollout_ref.actor.clip_ratio_hihg=0.28", "algorithm.dsdr.lamda_d=0.01"):
        overrides = dry_run(script, run_env, typo)
        with pytest.raises(ConfigCompositionException, match=re.escape(typo.split("=")[0].rsplit(".", 1)[1])):
            compose_config(overrides)


def test_out_of_range_value_is_rejected(run_env):
    config = compose_config(dry_run(EXAMPLES / "dsdr_qwen3_1.7b.sh", run_env, "algorithm.dsdr.tau=0"))
    with pytest.raises(ConfigError, match="algorithm.dsdr.tau"):
        check_config(config)


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        ("MODEL_PATH", "MODEL_PATH is not set"),
        ("TRAIN_FILE", "TRAIN_FILE is not set"),
        ("VAL_FILES", "VAL_FILES is not set"),
        ("CKPT_DIR", "CKPT_DIR is not set"),
    ],
)
def test_missing_environment_variable_is_named(run_env, unset, message):
    env = {k: v for k, v in run_env.items() if k != unset}
    result = run_script(EXAMPLES / "grpo_qwen3_1.7b.sh", env)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_missing_benchmark_file_is_named(run_env):
    missing = os.path.join(os.path.dirname(run_env["TRAIN_FILE"]), "aime26.parquet")
    env = {**run_env, "VAL_FILES": run_env["VAL_FILES"] + "," + missing}
    result = run_script(EXAMPLES / "grpo_qwen3_1.7b.sh", env)
    assert result.returncode != 0
    assert f"VAL_FILES names '{missing}', which is not a file" in result.stderr
    assert result.stdout == ""


def test_launch_runs_main_ppo_with_the_dry_run_overrides(run_env, tmp_path):
    """Without the dry run the script execs ``$PYTHON -m verl_dsdr.main_ppo <overrides>``: a stand-in
    interpreter records what it was given, and the metrics file of an earlier attempt is kept."""
    record = tmp_path / "argv.txt"
    fake_python = tmp_path / "python"
    fake_python.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$VERL_FILE_LOGGER_PATH" "$@" > "{record}"\n')
    fake_python.chmod(0o755)
    script = EXAMPLES / "grpo_qwen3_1.7b.sh"
    run_dir = Path(run_env["CKPT_DIR"]) / script.stem
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "data": {}}\n')
    env = {k: v for k, v in run_env.items() if k != "VERL_DSDR_DRY_RUN"}
    result = run_script(script, {**env, "PYTHON": str(fake_python)}, "trainer.test_freq=10")
    assert result.returncode == 0, result.stderr
    logger_path, *argv = record.read_text().splitlines()
    assert logger_path == str(run_dir / "metrics.jsonl")
    assert argv[:2] == ["-m", "verl_dsdr.main_ppo"]
    expected = dry_run(script, run_env, "trainer.test_freq=10")
    not_hydra_dir = [a for a in argv[2:] if not a.startswith("hydra.run.dir=")]
    assert not_hydra_dir == [a for a in expected if not a.startswith("hydra.run.dir=")]
    kept = list(run_dir.glob("metrics.until-*.jsonl"))
    assert len(kept) == 1 and kept[0].read_text() == '{"step": 1, "data": {}}\n'


# ---- VERL_DSDR_CPU_SMOKE=1: the same list on CPU, with only these keys swapped (examples/lib/smoke.sh) ----
SMOKE_SIZES = {
    "data.train_batch_size": "8",
    "data.max_prompt_length": "64",
    "data.max_response_length": "48",
    "data.val_max_samples": "4",
    "actor_rollout_ref.actor.ppo_mini_batch_size": "4",
    "actor_rollout_ref.actor.ppo_max_token_len_per_gpu": "112",  # 64 + 48: one full-length sequence, as the scripts
    "actor_rollout_ref.rollout.max_model_len": "112",
    "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu": "224",
    "trainer.nnodes": "1",
    "trainer.n_gpus_per_node": "1",
}
SMOKE_STEPS = {"trainer.total_training_steps": "2", "trainer.save_freq": "2", "trainer.test_freq": "2"}
SMOKE_BACKEND = {"preset": "cpu", "actor_rollout_ref.rollout.name": "hf_cpu"}
SMOKE_DAPO = {"reward.reward_kwargs.max_resp_len": "48", "reward.reward_kwargs.overlong_buffer_cfg.len": "12"}
SMOKE_RUN_FOLDER = ("trainer.default_local_dir", "hydra.run.dir")
SMOKE_KEYS = {*SMOKE_SIZES, *SMOKE_STEPS, *SMOKE_BACKEND, *SMOKE_DAPO, *SMOKE_RUN_FOLDER}


def by_key(overrides: list[str]) -> dict[str, str]:
    """``{key: value}`` of an override list (``+`` prefixes dropped); a key given twice is an error."""
    table: dict[str, str] = {}
    for override in overrides:
        key, _, value = override.partition("=")
        key = key.lstrip("+")
        assert key not in table, f"{key} is set twice in {overrides}"
        table[key] = value
    return table


@pytest.fixture
def smoke_env(run_env, tmp_path) -> dict[str, str]:
    return {**run_env, "VERL_DSDR_CPU_SMOKE": "1", "SMOKE_DIR": str(tmp_path / "smoke")}


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_smoke_list_differs_from_the_script_only_in_documented_keys(script: Path, run_env, smoke_env):
    real = by_key(dry_run(script, run_env))
    smoke = by_key(dry_run(script, smoke_env))
    changed = {key for key in real.keys() | smoke.keys() if real.get(key) != smoke.get(key)}
    assert changed <= SMOKE_KEYS, f"{script.name}: the smoke run also changes {sorted(changed - SMOKE_KEYS)}"
    expected = {**SMOKE_SIZES, **SMOKE_STEPS, **SMOKE_BACKEND}
    if "reward.reward_kwargs.max_resp_len" in real:
        expected.update(SMOKE_DAPO)  # DAPO's overlong buffer keeps its quarter of the response budget
    for key, value in expected.items():
        assert smoke.get(key) == value, f"{script.name}: smoke {key}={smoke.get(key)!r}, expected {value!r}"
    assert "hydra.run.dir" not in smoke  # verl_dsdr.launch.run_training puts it in the run folder
    assert smoke["trainer.default_local_dir"] == f"'{smoke_env['SMOKE_DIR']}/{script.stem}'"
    # Validation before training and the resume mode are the script's own (not swapped).
    assert smoke["trainer.val_before_train"] == real["trainer.val_before_train"] == "true"
    assert smoke["trainer.resume_mode"] == "auto"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_smoke_list_composes_with_the_cpu_preset_and_keeps_the_scripts_settings(script: Path, smoke_env):
    config = compose_config(dry_run(script, smoke_env))
    launcher_checks(config)
    assert config.trainer.device == "cpu"  # the preset is in
    # The script's memory settings win over the preset's CPU defaults: the smoke run trains with them.
    assert config.actor_rollout_ref.model.use_remove_padding is True
    assert config.actor_rollout_ref.model.enable_gradient_checkpointing is True
    assert config.actor_rollout_ref.actor.use_dynamic_bsz is True
    assert config.actor_rollout_ref.rollout.val_kwargs.n == 16
    assert config.data.max_prompt_length + config.data.max_response_length == 112


def test_smoke_uses_embedded_assets_for_unset_paths(run_env, smoke_env, tmp_path):
    """MODEL_PATH, TRAIN_FILE, VAL_FILES unset: the assets CLI's exports fill them; CKPT_DIR is not needed."""
    fake_python = tmp_path / "python"
    fake_python.write_text(
        "#!/usr/bin/env bash\n"
        '[ "$*" = "-m verl_dsdr.assets build --print-env" ] || exit 3\n'
        f"echo \"export MODEL_PATH='{run_env['MODEL_PATH']}'\"\n"
        f"echo \"export TRAIN_FILE='{run_env['TRAIN_FILE']}'\"\n"
        f"echo \"export VAL_FILE='{run_env['VAL_FILES'].split(',')[0]}'\"\n"
        "echo '# warm-start sampling ...'\n"
    )
    fake_python.chmod(0o755)
    env = {k: v for k, v in smoke_env.items() if k not in ("MODEL_PATH", "TRAIN_FILE", "VAL_FILES", "CKPT_DIR")}
    smoke = by_key(dry_run(EXAMPLES / "dsdr_qwen3_1.7b.sh", {**env, "PYTHON": str(fake_python)}))
    assert smoke["actor_rollout_ref.model.path"] == f"'{run_env['MODEL_PATH']}'"
    assert smoke["data.train_files"] == f"'{run_env['TRAIN_FILE']}'"
    assert smoke["data.val_files"] == f"['{run_env['VAL_FILES'].split(',')[0]}']"


def test_smoke_keys_are_documented():
    readme = (EXAMPLES / "README.md").read_text()
    missing = [key for key in sorted(SMOKE_KEYS) if f"`{key}`" not in readme]
    assert not missing, f"examples/README.md does not list the smoke run's swapped keys {missing}"
    assert "VERL_DSDR_CPU_SMOKE" in (REPO / "docs" / "REPRODUCE.md").read_text()
