"""Shared fixtures: one small asset build per test session (a few seconds), one tokenizer."""

from __future__ import annotations

import pytest

from verl_dsdr.assets.build import AssetConfig, build_assets
from verl_dsdr.assets.model import ModelShape
from verl_dsdr.assets.task import tokenizer_corpus
from verl_dsdr.assets.tokenizer import build_tokenizer
from verl_dsdr.assets.warm_start import WarmStartConfig

# Small enough to build in seconds; still exercises every stage (warm start, sampling, saving).
SMALL = AssetConfig(
    n_train=48,
    n_val=16,
    model=ModelShape(hidden_size=32, intermediate_size=64),
    warm_start=WarmStartConfig(steps=3, batch_size=4, warmup_steps=1),
    eval_prompts=4,
    eval_samples=2,
    eval_max_new_tokens=8,
    num_threads=1,
)


@pytest.fixture(scope="session")
def small_config() -> AssetConfig:
    return SMALL


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("asset_cache"))


@pytest.fixture(scope="session")
def small_assets(small_cache):
    return build_assets(cache_dir=small_cache, seed=0, config=SMALL)


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer(tokenizer_corpus(), SMALL.tokenizer_vocab_size)
