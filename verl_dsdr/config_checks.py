"""Config validation in the launching process, before Ray or any model starts.

Each error names the key, the value given, the allowed range, and how to fix it, so a wrong
value costs a second instead of a cluster start-up. Imports neither verl nor ray.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf

DSDR_ESTIMATORS = ("dsdr",)
GROUP_ESTIMATORS = ("dsdr", "setpo", "asym_grpo")

DSDR_KEYS = {
    "lambda_d", "sigma_d", "lambda_l", "tau", "semantic_weight", "peers", "coupling",
    "entropy_estimator", "detach_ratio", "diversity_in_validation", "embedder", "formulas",
}
EMBEDDER_KEYS = {"model", "device", "batch_size", "max_tokens", "chunking"}
FORMULA_KEYS = {"canonical", "time_limit"}
SETPO_KEYS = {"lambda_", "correct_only"}
ASYM_KEYS = {"beta_pos", "beta_neg", "threshold"}


class ConfigError(ValueError):
    """A config value verl-dsdr cannot run with; the message says which and how to fix it."""


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value!r} is invalid: allowed {allowed}. Fix it with `{key}=<value>` on the command line.")


def _number(section: DictConfig, prefix: str, name: str, low: float | None = None, strict_low: bool = False,
            high: float | None = None) -> float:
    key = f"{prefix}.{name}"
    value = section.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        _fail(key, value, "a finite number")
    value = float(value)
    if low is not None and (value <= low if strict_low else value < low):
        _fail(key, value, f"{'>' if strict_low else '>='} {low}" + (f" and <= {high}" if high is not None else ""))
    if high is not None and value > high:
        _fail(key, value, f"<= {high}")
    return value


def _choice(section: DictConfig, prefix: str, name: str, choices: Iterable[str]) -> str:
    value = section.get(name)
    choices = tuple(choices)
    if value not in choices:
        _fail(f"{prefix}.{name}", value, " | ".join(choices))
    return value


def _boolean(section: DictConfig, prefix: str, name: str) -> bool:
    value = section.get(name)
    if not isinstance(value, bool):
        _fail(f"{prefix}.{name}", value, "true | false")
    return value


def _known_keys(section: DictConfig, prefix: str, allowed: set[str]) -> None:
    unknown = sorted(set(section.keys()) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(prefix + '.' + k for k in unknown)}: allowed keys are "
            f"{', '.join(sorted(allowed))} (a misspelling?)"
        )


def _is_remote(value: str) -> bool:
    return "://" in value


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _looks_like_hub_id(value: str) -> bool:
    """``org/name`` (verl resolves it from the Hugging Face cache); anything else is a local path."""
    return bool(_HUB_ID.match(value)) and not value.endswith((".parquet", ".json", ".jsonl"))


def check_dsdr(section: DictConfig) -> None:
    p = "algorithm.dsdr"
    _known_keys(section, p, DSDR_KEYS)
    _number(section, p, "lambda_d", low=0.0)
    _number(section, p, "sigma_d", low=0.0, strict_low=True)
    _number(section, p, "lambda_l", low=0.0)
    _number(section, p, "tau", low=0.0, strict_low=True)
    _number(section, p, "semantic_weight", low=0.0, high=1.0)
    _choice(section, p, "peers", ("all", "correct"))
    _choice(section, p, "coupling", ("softmax", "uniform"))
    _choice(section, p, "entropy_estimator", ("is", "full"))
    _boolean(section, p, "detach_ratio")
    _boolean(section, p, "diversity_in_validation")
    embedder = section.embedder
    _known_keys(embedder, f"{p}.embedder", EMBEDDER_KEYS)
    from verl_dsdr.scoring.embedder import validate_embedder_config

    try:
        validate_embedder_config(
            embedder.model, embedder.device, embedder.batch_size, embedder.max_tokens, embedder.chunking
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    formulas = section.formulas
    _known_keys(formulas, f"{p}.formulas", FORMULA_KEYS)
    _choice(formulas, f"{p}.formulas", "canonical", ("string", "sympy"))
    _number(formulas, f"{p}.formulas", "time_limit", low=0.0, strict_low=True)


def check_setpo(section: DictConfig) -> None:
    _known_keys(section, "algorithm.setpo", SETPO_KEYS)
    _number(section, "algorithm.setpo", "lambda_", low=0.0)
    _boolean(section, "algorithm.setpo", "correct_only")


def check_asym_grpo(section: DictConfig) -> None:
    _known_keys(section, "algorithm.asym_grpo", ASYM_KEYS)
    _number(section, "algorithm.asym_grpo", "beta_pos", low=0.0)
    _number(section, "algorithm.asym_grpo", "beta_neg", low=0.0)
    _number(section, "algorithm.asym_grpo", "threshold")


def _check_local_paths(config: DictConfig) -> None:
    model_path = str(config.actor_rollout_ref.model.path)
    exists = os.path.exists(os.path.expanduser(model_path))
    if not exists and not _is_remote(model_path) and not _looks_like_hub_id(model_path):
        raise ConfigError(
            f"actor_rollout_ref.model.path={model_path!r} does not exist: point it at a local Hugging Face model "
            "folder (for the embedded tiny model run `python -m verl_dsdr.assets build --print-env`)"
        )
    for key in ("train_files", "val_files"):
        files = config.data.get(key)
        files = OmegaConf.to_container(files) if OmegaConf.is_config(files) else files
        for f in [files] if isinstance(files, str) else (files or []):
            if not _is_remote(str(f)) and not os.path.exists(os.path.expanduser(str(f))):
                raise ConfigError(
                    f"data.{key} names {f!r}, which does not exist: prepare it with `python -m verl_dsdr.data ...` "
                    "or fix the path"
                )


def check_config(config: DictConfig) -> None:
    """Validate everything verl-dsdr adds, plus the verl settings its methods depend on."""
    algorithm = config.algorithm
    estimator = algorithm.adv_estimator
    n = int(config.actor_rollout_ref.rollout.n)
    if estimator in GROUP_ESTIMATORS and n < 2:
        raise ConfigError(
            f"actor_rollout_ref.rollout.n={n} is invalid for algorithm.adv_estimator={estimator}: group-relative "
            "methods need >= 2 rollouts per prompt (the paper uses 8). Set actor_rollout_ref.rollout.n=8."
        )
    check_dsdr(algorithm.dsdr)
    check_setpo(algorithm.setpo)
    check_asym_grpo(algorithm.asym_grpo)
    _check_local_paths(config)
