"""AsymGRPO peer method: asymmetric exponents on the group-accuracy odds."""

import math

import pytest
import torch

from verl_dsdr.algorithms import asym_grpo_advantages


def test_hand_values_default_exponents():
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0])
    adv = asym_grpo_advantages(scores, ["g"] * 4, beta_pos=0.9, beta_neg=0.4, threshold=0.0)
    # p = 1/4: correct +(0.75/0.25)^0.9 = 3^0.9 = 2.687936 ; incorrect -(0.25/0.75)^0.4 = -(1/3)^0.4 = -0.644394
    torch.testing.assert_close(adv, torch.tensor([3**0.9, -((1 / 3) ** 0.4), -((1 / 3) ** 0.4), -((1 / 3) ** 0.4)]))


def test_half_half_is_grpo_with_population_std():
    scores = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    index = ["a", "a", "a", "a", "b", "b"]
    adv = asym_grpo_advantages(scores, index, beta_pos=0.5, beta_neg=0.5, threshold=0.0)
    # group a: p = 3/4, mean 0.75, std_pop = sqrt(0.75*0.25) = 0.433013
    #   correct (1-0.75)/0.433013 = 0.57735 = (0.25/0.75)^0.5 ; incorrect -0.75/0.433013 = -1.73205 = -(3)^0.5
    # group b: p = 1/2 -> +-1
    expected = []
    for g in ("a", "b"):
        r = scores[[i for i, u in enumerate(index) if u == g]]
        expected.append((r - r.mean()) / r.std(unbiased=False))
    torch.testing.assert_close(adv, torch.cat(expected))
    torch.testing.assert_close(adv[:4], torch.tensor([1 / math.sqrt(3)] * 3 + [-math.sqrt(3)]))


def test_zero_exponents_give_reinforce_signs():
    adv = asym_grpo_advantages(torch.tensor([1.0, 0.0, 0.0]), [0, 0, 0], beta_pos=0.0, beta_neg=0.0, threshold=0.0)
    torch.testing.assert_close(adv, torch.tensor([1.0, -1.0, -1.0]))


def test_all_wrong_all_correct_and_singletons_get_zero():
    scores = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0])
    adv = asym_grpo_advantages(scores, ["w", "w", "c", "c", "s"], beta_pos=0.9, beta_neg=0.4, threshold=0.0)
    torch.testing.assert_close(adv, torch.zeros(5))


def test_threshold_handles_plus_minus_one_scores():
    # math_dapo style +-1: threshold 0 -> p = 1/2 -> +1 and -1 for any exponents
    adv = asym_grpo_advantages(torch.tensor([1.0, -1.0]), ["g", "g"], beta_pos=0.9, beta_neg=0.4, threshold=0.0)
    torch.testing.assert_close(adv, torch.tensor([1.0, -1.0]))
    # threshold 0.5 on 0/0.6/1 scores: correct = [F, T, T], p = 2/3 -> -(2)^0.4, +(0.5)^0.9 twice
    adv = asym_grpo_advantages(torch.tensor([0.0, 0.6, 1.0]), ["g"] * 3, threshold=0.5, beta_pos=0.9, beta_neg=0.4)
    torch.testing.assert_close(adv, torch.tensor([-(2**0.4), 0.5**0.9, 0.5**0.9]))


def test_bad_exponents_are_rejected():
    with pytest.raises(ValueError, match="beta_pos"):
        asym_grpo_advantages([1.0, 0.0], [0, 0], beta_pos=-0.1, beta_neg=0.4, threshold=0.0)
    with pytest.raises(ValueError, match="beta_neg"):
        asym_grpo_advantages([1.0, 0.0], [0, 0], beta_neg=math.nan, beta_pos=0.9, threshold=0.0)
