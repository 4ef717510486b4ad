"""Warm start pieces: batching, schedule, group statistics, sampling, a short fine-tune."""

from __future__ import annotations

import math

import pytest
import torch

from verl_dsdr.assets.model import ModelShape, build_model
from verl_dsdr.assets.task import ArithProblem
from verl_dsdr.assets.warm_start import (
    WarmStartConfig,
    group_stats,
    lr_factor,
    measure,
    prompt_ids,
    sample_completions,
    sft_batch,
    warm_start,
)

TINY = ModelShape(hidden_size=32, intermediate_size=64)


def test_sft_batch_masks_prompt_and_padding():
    input_ids, mask, labels = sft_batch([([5, 6], [7, 2]), ([8], [9, 10, 2])], pad_id=0)
    assert input_ids.tolist() == [[5, 6, 7, 2], [8, 9, 10, 2]]
    assert mask.tolist() == [[1, 1, 1, 1], [1, 1, 1, 1]]
    assert labels.tolist() == [[-100, -100, 7, 2], [-100, 9, 10, 2]]
    input_ids, mask, labels = sft_batch([([5], [2]), ([8, 8], [9, 2])], pad_id=0)
    assert input_ids.tolist() == [[5, 2, 0, 0], [8, 8, 9, 2]]
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert labels.tolist() == [[-100, 2, -100, -100], [-100, -100, 9, 2]]


def test_lr_factor_warms_up_then_decays_to_a_tenth():
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)  # (0 + 1) / 10
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)  # (9 + 1) / 10
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)  # cos(0) = 1
    # halfway through the decay: 0.1 + 0.9 * 0.5 * (1 + cos(pi/2)) = 0.55
    assert lr_factor(55, 100, 10) == pytest.approx(0.55)
    assert lr_factor(100, 100, 10) == pytest.approx(0.1)


def test_group_stats_by_hand():
    stats = group_stats([[True, True], [True, False], [False, False], [False, False]])
    # 3 correct of 8; one group of each kind plus one more all-wrong
    assert stats.accuracy == pytest.approx(3 / 8)
    assert (stats.all_correct, stats.mixed, stats.all_wrong) == (0.25, 0.25, 0.5)
    assert (stats.n_groups, stats.group_size) == (4, 2)


def test_group_stats_rejects_ragged_or_empty_input():
    with pytest.raises(ValueError):
        group_stats([])
    with pytest.raises(ValueError):
        group_stats([[True], [True, False]])


def test_prompt_ids_open_the_assistant_turn(tokenizer):
    ids = prompt_ids(tokenizer, ArithProblem("add", (1, 2)))
    assert tokenizer.decode(ids).endswith("<|im_end|>\n<|im_start|>assistant\n")


def test_sampling_with_left_padding_matches_unpadded_sampling(tokenizer):
    # At a near-zero temperature sampling is greedy, so a short prompt must give the same
    # tokens alone and when left-padded next to a longer one (positions and mask are right).
    model = build_model(TINY, tokenizer, seed=1).eval()
    short = prompt_ids(tokenizer, ArithProblem("add", (1, 2)))
    long = prompt_ids(tokenizer, ArithProblem("add_mul", (3, 4, 5)))
    assert len(long) > len(short)

    def run(prompts):
        return sample_completions(model, prompts, 6, 1e-4, tokenizer.eos_token_id, 0, torch.Generator().manual_seed(0))

    assert run([long, short])[1] == run([short])[0]


def test_sampling_is_reproducible_and_bounded(tokenizer):
    model = build_model(TINY, tokenizer, seed=1).eval()
    prompts = [prompt_ids(tokenizer, ArithProblem("mul", (2, 3)))] * 3

    def run(seed):
        return sample_completions(model, prompts, 5, 1.0, 2, 0, torch.Generator().manual_seed(seed))

    first = run(0)
    assert first == run(0)
    assert all(len(c) <= 5 and (2 not in c or c.index(2) == len(c) - 1) for c in first)
    with pytest.raises(ValueError, match="temperature"):
        sample_completions(model, prompts, 5, 0.0, 2, 0, torch.Generator())


def test_a_short_warm_start_lowers_the_loss(tokenizer):
    torch.set_num_threads(1)
    model = build_model(TINY, tokenizer, seed=0)
    problems = [ArithProblem("add", (a, b)) for a in range(1, 5) for b in range(1, 5)]
    losses = warm_start(model, tokenizer, problems, WarmStartConfig(steps=30, batch_size=8, warmup_steps=3), seed=0)
    assert len(losses) == 30
    # starts near ln(vocab) (uniform guess over 320 ids: ln 320 = 5.77), ends well below
    assert losses[0] > 5.0 and math.fsum(losses[-5:]) / 5 < 3.5
    assert not model.training


def test_measure_reports_groups_and_forms(tokenizer):
    model = build_model(TINY, tokenizer, seed=0)
    problems = [ArithProblem("add", (1, 2)), ArithProblem("mul", (2, 2))]
    report = measure(model, tokenizer, problems, n_samples=3, max_new_tokens=4, seed=0)
    assert (report["n_groups"], report["group_size"]) == (2, 3)
    assert report["all_correct"] + report["mixed"] + report["all_wrong"] == pytest.approx(1.0)
    assert set(report["accuracy_by_kind"]) == {"add", "mul"}
    assert len(report["examples"]) == 4


def test_warm_start_rejects_empty_problem_list(tokenizer):
    with pytest.raises(ValueError, match="at least one"):
        warm_start(build_model(TINY, tokenizer, 0), tokenizer, [], WarmStartConfig(steps=1), seed=0)


def test_targets_follow_the_mistake_rate_and_drop_the_bare_two_operation_answer():
    import random

    from verl_dsdr.assets.task import ArithProblem, mistake_forms, solution_forms
    from verl_dsdr.assets.warm_start import WarmStartConfig, _target, sft_target_texts

    problem = ArithProblem("add_mul", (3, 4, 2))
    taught = sft_target_texts(problem, bare_two_op=False)
    assert taught == solution_forms(problem)[:-1] and "The answer is \\boxed{11}." not in taught
    assert sft_target_texts(problem, bare_two_op=True) == solution_forms(problem)
    assert sft_target_texts(ArithProblem("add", (3, 4)), bare_two_op=False)[-1] == "The answer is \\boxed{7}."
    correct, wrong = [[1]], [[2]]
    rng = random.Random(0)
    picks = [_target(rng, correct, wrong, 0.6)[0] for _ in range(4000)]
    assert abs(picks.count(2) / 4000 - 0.6) < 0.03
    assert {_target(rng, correct, None, 0.6)[0] for _ in range(50)} == {1}
    assert len(mistake_forms(problem)) == 4
    with pytest.raises(ValueError, match="mistake_rate"):
        WarmStartConfig(mistake_rate=1.5)
