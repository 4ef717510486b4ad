"""Reward shaping (Eq. 10), coupling weights (Eq. 11), loss coefficients (spec section 6)."""

import math

import numpy as np
import pytest
import torch

from verl_dsdr.algorithms import (
    clipped_diversity,
    coupling_weights,
    entropy_of_weights,
    loss_coefficients,
    shaped_rewards,
)


def test_clipped_diversity():
    # clip(d, 0, 0.5): -0.2 -> 0, 0.3 -> 0.3, 0.9 -> 0.5
    torch.testing.assert_close(clipped_diversity([-0.2, 0.3, 0.9], sigma_d=0.5), torch.tensor([0.0, 0.3, 0.5]))
    with pytest.raises(ValueError, match="sigma_d"):
        clipped_diversity([0.1], sigma_d=0.0)


def test_shaped_rewards_bonus_only_for_correct():
    scores = torch.tensor([1.0, 0.0, 1.0, 0.0])
    correct = torch.tensor([True, False, True, False])
    d = torch.tensor([0.5, 0.9, 1.5, -0.3])
    r = shaped_rewards(scores, correct, d, lambda_d=0.1, sigma_d=1.0)
    # 1 + 0.1*0.5 = 1.05 ; incorrect keeps 0 ; 1 + 0.1*clip(1.5) = 1.1 ; incorrect keeps 0
    torch.testing.assert_close(r, torch.tensor([1.05, 0.0, 1.1, 0.0]))
    # sigma_d = 0.2 caps the bonus: 1 + 0.1*0.2 = 1.02 for both correct rollouts
    r = shaped_rewards(scores, correct, d, lambda_d=0.1, sigma_d=0.2)
    torch.testing.assert_close(r, torch.tensor([1.02, 0.0, 1.02, 0.0]))


def test_shaped_rewards_lambda_zero_is_bit_identical():
    scores = torch.tensor([-0.0, 1.0, 0.3, -1.0, 1e-8], dtype=torch.float64)
    correct = [0, 1, 1, 0, 1]
    out = shaped_rewards(scores, correct, torch.rand(5), lambda_d=0.0, sigma_d=1.0)
    expected = scores.to(torch.float32)
    assert out.dtype == torch.float32
    assert torch.equal(out.view(torch.int32), expected.view(torch.int32))  # -0.0 stays -0.0


def test_shaped_rewards_rejects_bad_input():
    with pytest.raises(ValueError, match="lambda_d"):
        shaped_rewards([1.0], [True], [0.5], lambda_d=-0.1, sigma_d=1.0)
    with pytest.raises(ValueError, match="0/1"):
        shaped_rewards([1.0, -1.0], [1.0, -1.0], [0.5, 0.5], lambda_d=0.1, sigma_d=1.0)
    with pytest.raises(ValueError, match="correct must have shape"):
        shaped_rewards([1.0, 0.0], [True], [0.5, 0.5], lambda_d=0.1, sigma_d=1.0)


def test_coupling_all_correct_group_hand_values():
    d = torch.tensor([0.1, 0.5, 0.3])
    w = coupling_weights(d, [True] * 3, ["g"] * 3, tau=5.0, sigma_d=1.0, mode="softmax")
    # exp(5*d) = e^0.5, e^2.5, e^1.5 = 1.64872, 12.18249, 4.48169 ; sum = 18.31290
    torch.testing.assert_close(w, torch.tensor([0.090030, 0.665240, 0.244730]), atol=1e-5, rtol=0)
    assert w.argsort().tolist() == d.argsort().tolist()  # ordered like d


def test_coupling_incorrect_get_zero_and_groups_sum_to_one():
    index = ["a", "a", "a", "b", "b", "c", "c"]
    correct = torch.tensor([True, False, True, False, False, True, True])
    d = torch.tensor([0.2, 0.9, 0.2, 0.4, 0.7, 0.0, 1.0])
    w = coupling_weights(d, correct, index, tau=1.0, sigma_d=1.0, mode="softmax")
    # a: correct {0, 2} with equal d -> 1/2 each ; b: no correct -> 0 ; c: e^0/(e^0+e^1) = 0.268941
    torch.testing.assert_close(w, torch.tensor([0.5, 0.0, 0.5, 0.0, 0.0, 0.268941, 0.731059]), atol=1e-6, rtol=0)
    sums = torch.zeros(3).index_add(0, torch.tensor([0, 0, 0, 1, 1, 2, 2]), w)
    torch.testing.assert_close(sums, torch.tensor([1.0, 0.0, 1.0]))


def test_coupling_temperature_limits_and_stability():
    d = torch.tensor([0.1, 0.5, 0.3, 0.9])
    correct = [True, True, True, False]
    tiny = coupling_weights(d, correct, [0] * 4, tau=1e-6, sigma_d=1.0, mode="softmax")
    torch.testing.assert_close(tiny, torch.tensor([1 / 3, 1 / 3, 1 / 3, 0.0]), atol=1e-6, rtol=0)
    big = coupling_weights(
        d, correct, [0] * 4, tau=1e4, sigma_d=1.0, mode="softmax"
    )  # exp(1e4*0.5) would overflow unshifted
    torch.testing.assert_close(big, torch.tensor([0.0, 1.0, 0.0, 0.0]))
    assert torch.isfinite(big).all()


def test_coupling_uniform_mode_and_clipping():
    d = torch.tensor([2.0, -1.0, 0.3])
    w = coupling_weights(d, [True, True, False], ["g"] * 3, mode="uniform", tau=5.0, sigma_d=1.0)
    torch.testing.assert_close(w, torch.tensor([0.5, 0.5, 0.0]))
    # clip to [0, 1] first: logits 5*1 = 5 and 5*0 = 0 -> e^5/(e^5+1) = 0.993307
    w = coupling_weights(d, [True, True, False], ["g"] * 3, tau=5.0, sigma_d=1.0, mode="softmax")
    torch.testing.assert_close(w, torch.tensor([0.993307, 0.006693, 0.0]), atol=1e-6, rtol=0)


def test_coupling_rejects_bad_tau_and_mode():
    for tau in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="tau"):
            coupling_weights([0.1], [True], ["g"], tau=tau, sigma_d=1.0, mode="softmax")
    with pytest.raises(ValueError, match="mode"):
        coupling_weights([0.1], [True], ["g"], mode="hard", tau=5.0, sigma_d=1.0)


def test_loss_coefficients_hand_values():
    c = loss_coefficients(torch.tensor([0.2, 0.3, 0.5, 1.0]), ["a", "a", "a", "b"])
    # G = 3, 3, 3, 1 -> c = 3*0.2, 3*0.3, 3*0.5, 1*1.0 = 0.6, 0.9, 1.5, 1.0
    torch.testing.assert_close(c, torch.tensor([0.6, 0.9, 1.5, 1.0]))


def test_loss_coefficients_turn_the_sample_mean_into_the_prompt_mean():
    # Equal group sizes (verl: n rollouts per prompt). Per group sum of w*h:
    # a: 0.25*1 + 0.75*2 = 1.75 ; b: 1*4 + 0*3 = 4 -> mean over the 2 prompts = 2.875.
    # mean_i c_i h_i = (0.5*1 + 1.5*2 + 2*4 + 0*3)/4 = 11.5/4 = 2.875.
    w = torch.tensor([0.25, 0.75, 1.0, 0.0])
    h = torch.tensor([1.0, 2.0, 4.0, 3.0])
    c = loss_coefficients(w, ["a", "a", "b", "b"])
    torch.testing.assert_close((c * h).mean(), torch.tensor(2.875))
    # Splitting groups across micro-batches is tested on the loss itself, run per micro-batch:
    # tests/glue/test_loss.py::test_micro_batches_that_split_groups_give_the_prompt_mean.


def test_entropy_of_weights():
    index = ["a", "a", "b", "b", "c"]
    w = torch.tensor([0.5, 0.5, 1.0, 0.0, 0.0])
    per_group = entropy_of_weights(w, index, reduction="none")
    # a uniform over 2 -> log 2 ; b one-hot -> 0 ; c has no correct rollout -> NaN (undefined)
    torch.testing.assert_close(per_group[:2], torch.tensor([math.log(2), 0.0]))
    assert math.isnan(per_group[2].item())
    # mean over defined groups: (log 2 + 0)/2
    torch.testing.assert_close(entropy_of_weights(w, index), torch.tensor(math.log(2) / 2))
    assert entropy_of_weights(torch.zeros(2), ["a", "a"]).item() == 0.0
    with pytest.raises(ValueError, match="reduction"):
        entropy_of_weights(w, index, reduction="sum")


def test_all_wrong_and_all_correct_batches():
    index = np.array(["p"] * 4 + ["q"] * 4, dtype=object)
    d = torch.tensor([0.1, 0.4, 0.2, 0.3, 0.5, 0.5, 0.5, 0.5])
    correct = torch.tensor([False] * 4 + [True] * 4)
    w = coupling_weights(d, correct, index, tau=5.0, sigma_d=1.0, mode="softmax")
    # p all wrong -> 0 ; q all correct with equal d -> 1/4 each
    torch.testing.assert_close(w, torch.tensor([0.0] * 4 + [0.25] * 4))
    r = shaped_rewards(correct.float(), correct, d, lambda_d=0.001, sigma_d=1.0)
    torch.testing.assert_close(r, torch.tensor([0.0] * 4 + [1.0005] * 4))
