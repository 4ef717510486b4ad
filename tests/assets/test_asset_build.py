"""Building and caching: layout, verl's parquet schema, reuse without rebuilding, cache keys, CLI."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import verl_dsdr.assets.__main__ as cli_module
import verl_dsdr.assets.build as build_module
from verl_dsdr.assets.build import (
    DONE_MARKER,
    build_assets,
    cache_key,
    default_cache_dir,
    is_complete,
    load_stats,
    paths_in,
)
from verl_dsdr.assets.task import answer, parse_question


def test_build_layout(small_assets, small_cache, small_config):
    root = Path(small_assets.root)
    assert root.parent == Path(small_cache) and root.name == cache_key(small_config, 0)
    assert is_complete(root)
    assert small_assets.tokenizer_dir == small_assets.model_dir
    for path in (small_assets.train_parquet, small_assets.val_parquet, small_assets.stats_json):
        assert Path(path).is_file()
    assert [p.name for p in Path(small_cache).iterdir() if p.name.startswith(".")] == []  # no staging left


def test_parquet_schema_is_what_verl_reads(small_assets, small_config):
    frames = {}
    for split, path, size in (
        ("train", small_assets.train_parquet, small_config.n_train),
        ("val", small_assets.val_parquet, small_config.n_val),
    ):
        frame = pd.read_parquet(path)
        assert list(frame.columns) == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
        assert len(frame) == size
        assert set(frame["data_source"]) == {"verl_dsdr/arith"} and set(frame["ability"]) == {"math"}
        for i, row in frame.iterrows():
            messages = list(row["prompt"])
            assert len(messages) == 1 and set(messages[0]) == {"role", "content"} and messages[0]["role"] == "user"
            assert set(row["reward_model"]) == {"style", "ground_truth"} and row["reward_model"]["style"] == "rule"
            info = row["extra_info"]
            assert set(info) == {"index", "split", "question"}
            assert (info["index"], info["split"]) == (i, split)
            assert messages[0]["content"].startswith(info["question"])
            assert row["reward_model"]["ground_truth"] == str(answer(parse_question(info["question"])))
        frames[split] = frame
    train_q = {info["question"] for info in frames["train"]["extra_info"]}
    val_q = {info["question"] for info in frames["val"]["extra_info"]}
    assert not train_q & val_q


def test_stats_are_recorded(small_assets, small_config):
    stats = load_stats(small_assets)
    assert stats["warm_start"]["steps"] == small_config.warm_start.steps
    assert stats["vocab_size_model"] % 64 == 0
    for split in ("train", "val"):
        s = stats["sampling"][split]
        assert (s["n_groups"], s["group_size"]) == (small_config.eval_prompts, small_config.eval_samples)
        assert s["all_correct"] + s["mixed"] + s["all_wrong"] == pytest.approx(1.0)


def test_second_build_reuses_the_cache(small_assets, small_cache, small_config, monkeypatch):
    done = Path(small_assets.root) / DONE_MARKER
    weights = Path(small_assets.model_dir) / "model.safetensors"
    before = (done.stat().st_mtime_ns, weights.stat().st_mtime_ns)

    def must_not_build(*args, **kwargs):
        raise AssertionError("a complete cached build was rebuilt")

    monkeypatch.setattr(build_module, "_build_into", must_not_build)
    again = build_assets(cache_dir=small_cache, seed=0, config=small_config)
    assert again == small_assets
    assert (done.stat().st_mtime_ns, weights.stat().st_mtime_ns) == before


def test_cache_key_depends_on_every_input(small_config):
    key = cache_key(small_config, 0)
    assert key == cache_key(small_config, 0) and len(key) == 16
    assert cache_key(small_config, 1) != key
    assert cache_key(replace(small_config, n_train=small_config.n_train + 1), 0) != key
    other_ws = replace(small_config.warm_start, lr=small_config.warm_start.lr * 2)
    assert cache_key(replace(small_config, warm_start=other_ws), 0) != key
    assert cache_key(replace(small_config, model=replace(small_config.model, hidden_size=64)), 0) != key


def test_incomplete_folder_is_rebuilt_and_failures_leave_nothing(tmp_path, small_config, monkeypatch):
    config = replace(small_config, n_train=8, n_val=4, eval_prompts=2)
    stale = tmp_path / cache_key(config, 0)
    stale.mkdir()
    (stale / "junk").write_text("half-written")
    paths = build_assets(cache_dir=str(tmp_path), seed=0, config=config)
    assert paths == paths_in(stale) and is_complete(stale) and not (stale / "junk").exists()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "_build_into", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_assets(cache_dir=str(tmp_path / "fresh"), seed=0, config=config)
    assert list((tmp_path / "fresh").iterdir()) == []


def test_bad_arguments_are_rejected(tmp_path, small_config):
    with pytest.raises(ValueError, match="seed"):
        build_assets(cache_dir=str(tmp_path), seed=-1, config=small_config)
    with pytest.raises(ValueError, match="eval_prompts"):
        build_assets(cache_dir=str(tmp_path), config=replace(small_config, eval_prompts=small_config.n_val + 1))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VERL_DSDR_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VERL_DSDR_CACHE")
    repo = Path(build_module.__file__).resolve().parents[2]
    assert default_cache_dir() == repo / ".cache" / "verl_dsdr"


def test_cli_prints_shell_exports(tmp_path, capsys, monkeypatch, small_config):
    # The CLI builds the default config; swap in the small one (and 2 steps) to keep it quick.
    monkeypatch.setitem(cli_module.PRESETS, "default", small_config)
    argv = ["build", "--cache-dir", str(tmp_path), "--seed", "3", "--warm-start-steps", "2", "--print-env"]
    assert cli_module.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
    assert set(exports) == {"MODEL_PATH", "TRAIN_FILE", "VAL_FILES", "VAL_FILE", "VERL_DSDR_ASSETS"}
    assert exports["VAL_FILES"] == exports["VAL_FILE"]  # VAL_FILES for examples/, VAL_FILE for older scripts
    assert Path(exports["MODEL_PATH"], "config.json").is_file() and Path(exports["TRAIN_FILE"]).is_file()
    assert lines[-1].startswith("# warm-start sampling at T=1.0, 4 prompts x 2: train acc ")
    config = json.loads(Path(exports["VERL_DSDR_ASSETS"], "config.json").read_text())
    assert config["seed"] == 3 and config["config"]["warm_start"]["steps"] == 2
    expected = replace(small_config, warm_start=replace(small_config.warm_start, steps=2))
    assert os.path.basename(exports["VERL_DSDR_ASSETS"]) == cache_key(expected, 3)


def test_cli_plain_output_lists_paths(tmp_path, capsys, monkeypatch, small_config):
    monkeypatch.setitem(cli_module.PRESETS, "default", small_config)
    assert cli_module.main(["build", "--cache-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = [line.split(":", 1)[0] for line in lines[:-1]]
    assert names == ["root", "model_dir", "tokenizer_dir", "train_parquet", "val_parquet", "stats_json"]
    assert lines[-1].startswith("warm-start sampling at T=1.0")


def test_same_inputs_give_identical_files(tmp_path, small_assets, small_config):
    again = build_assets(cache_dir=str(tmp_path), seed=0, config=small_config)
    for name in ("data/train.parquet", "data/val.parquet", "model/model.safetensors", "model/tokenizer.json"):
        assert Path(again.root, name).read_bytes() == Path(small_assets.root, name).read_bytes(), name
