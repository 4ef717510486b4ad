"""verl-dsdr's registered estimators against verl's own GRPO (spec section 3, peers)."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn

from verl_dsdr.registration import register_all

register_all()  # dsdr, setpo, asym_grpo


def _batch(seed: int, groups: int = 5, n: int = 4, length: int = 6):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, length + 1, (groups * n,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).float()
    correct = torch.randint(0, 2, (groups * n,), generator=g).bool()
    rewards = torch.zeros(groups * n, length)
    rewards[torch.arange(groups * n), lengths - 1] = correct.float()
    index = np.array([f"uid{i // n}" for i in range(groups * n)], dtype=object)
    diversity = torch.rand(groups * n, generator=g)
    return rewards, mask, index, correct, diversity


def _config(**sections):
    base = {"norm_adv_by_std_in_grpo": True, "dsdr": {"lambda_d": 0.001, "sigma_d": 1.0}, "setpo": {"lambda_": 1.0}}
    base.update(sections)
    return OmegaConf.create(base)


@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dsdr_with_lambda_d_zero_is_verl_grpo_exactly(seed, norm):
    rewards, mask, index, correct, diversity = _batch(seed)
    config = _config(norm_adv_by_std_in_grpo=norm, dsdr={"lambda_d": 0.0, "sigma_d": 1.0})
    adv, ret = get_adv_estimator_fn("dsdr")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=config,
        dsdr_correct=correct,
        dsdr_diversity=diversity,
    )
    expected, _ = compute_grpo_outcome_advantage(rewards, mask, index, norm_adv_by_std_in_grpo=norm)
    assert torch.equal(adv, expected)
    assert torch.equal(ret, expected)


def test_all_correct_group_gets_advantages_ordered_like_d():
    # One group of 4, all correct: GRPO gives zeros, DSDR gives advantages ordered like d (Prop. C.4).
    mask = torch.ones(4, 3)
    rewards = torch.zeros(4, 3)
    rewards[:, -1] = 1.0
    index = np.array(["g"] * 4, dtype=object)
    diversity = torch.tensor([0.1, 0.7, 0.3, 0.5])
    grpo, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    assert torch.count_nonzero(grpo) == 0
    adv, _ = get_adv_estimator_fn("dsdr")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(),
        dsdr_correct=torch.ones(4, dtype=torch.bool),
        dsdr_diversity=diversity,
    )
    per_row = adv[:, 0]
    assert torch.count_nonzero(per_row) == 4
    assert torch.equal(torch.argsort(per_row), torch.argsort(diversity))
    # Hand value: shaped = 1 + 0.001 d, so adv = 0.001 (d - mean d) / (0.001 std_unbiased(d) + 1e-6);
    # std_unbiased([0.1, 0.7, 0.3, 0.5]) = 0.2582, so adv ~ 0.9961 * z(d). float32 rounding of 1 + 0.001 d
    # costs ~1e-7 / 2.6e-4 relative, hence the tolerance.
    expected = 0.001 * (diversity - diversity.mean()) / (0.001 * diversity.std() + 1e-6)
    torch.testing.assert_close(per_row, expected, rtol=2e-3, atol=2e-3)


def test_incorrect_rollouts_get_no_bonus():
    # Identical scores among incorrect rollouts stay identical whatever their diversity.
    mask = torch.ones(4, 2)
    rewards = torch.zeros(4, 2)
    rewards[0, -1] = 1.0
    index = np.array(["g"] * 4, dtype=object)
    correct = torch.tensor([True, False, False, False])
    adv, _ = get_adv_estimator_fn("dsdr")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(),
        dsdr_correct=correct,
        dsdr_diversity=torch.tensor([0.2, 0.9, 0.1, 0.5]),
    )
    assert adv[1, 0] == adv[2, 0] == adv[3, 0]


def test_dsdr_estimator_refuses_to_run_without_trainer_inputs():
    rewards, mask, index, _, _ = _batch(0)
    with pytest.raises(ValueError, match="verl_dsdr.main_ppo"):
        get_adv_estimator_fn("dsdr")(token_level_rewards=rewards, response_mask=mask, index=index, config=_config())


@pytest.mark.parametrize("seed", [0, 3])
def test_setpo_with_lambda_zero_is_verl_grpo_exactly(seed):
    rewards, mask, index, correct, _ = _batch(seed)
    contributions = torch.randn(len(index))
    adv, _ = get_adv_estimator_fn("setpo")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(setpo={"lambda_": 0.0}),
        setpo_contributions=contributions,
        setpo_correct=correct,
    )
    expected, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    assert torch.equal(adv, expected)


def test_setpo_adds_lambda_times_contribution_on_valid_tokens():
    rewards, mask, index, correct, _ = _batch(4)
    contributions = torch.linspace(-0.5, 0.5, len(index))
    adv, _ = get_adv_estimator_fn("setpo")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(setpo={"lambda_": 2.0}),
        setpo_contributions=contributions,
        setpo_correct=correct,
    )
    grpo, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    torch.testing.assert_close(adv, grpo + 2.0 * contributions[:, None] * mask)


def test_setpo_correct_only_leaves_incorrect_rows_as_grpo():
    rewards, mask, index, correct, _ = _batch(5)
    contributions = torch.full((len(index),), 0.3)
    adv, _ = get_adv_estimator_fn("setpo")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(setpo={"lambda_": 1.0, "correct_only": True}),
        setpo_contributions=contributions,
        setpo_correct=correct,
    )
    grpo, _ = compute_grpo_outcome_advantage(rewards, mask, index)
    assert torch.equal(adv[~correct], grpo[~correct])
    torch.testing.assert_close(adv[correct], grpo[correct] + 0.3 * mask[correct])


def test_asym_grpo_half_half_matches_grpo_with_population_std():
    # Binary rewards: (r - p) / sqrt(p (1 - p)) is GRPO with the population std and no epsilon.
    rewards, mask, index, correct, _ = _batch(6, groups=8, n=8)
    adv, _ = get_adv_estimator_fn("asym_grpo")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(asym_grpo={"beta_pos": 0.5, "beta_neg": 0.5, "threshold": 0.0}),
    )
    scores = rewards.sum(-1)
    expected = torch.zeros_like(scores)
    for uid in set(index):
        rows = torch.tensor(index == uid)
        s = scores[rows]
        std = s.std(unbiased=False)
        expected[rows] = (s - s.mean()) / std if std > 0 else 0.0
    torch.testing.assert_close(adv[:, 0], expected * (mask.sum(-1) > 0), rtol=1e-5, atol=1e-6)
    assert torch.equal(adv, adv[:, :1] * mask)


def test_dsdr_reads_sigma_d_and_lambda_d_from_config():
    # All correct, d = [0.1, 0.7, 0.3, 0.5]; sigma_d = 0.2 clips to d_bar = [0.1, 0.2, 0.2, 0.2] (Eq. 10),
    # so rows 1-3 get one advantage and row 0 a lower one: GRPO on 1 + lambda_d * d_bar.
    mask = torch.ones(4, 3)
    rewards = torch.zeros(4, 3)
    rewards[:, -1] = 1.0
    index = np.array(["g"] * 4, dtype=object)
    diversity = torch.tensor([0.1, 0.7, 0.3, 0.5])
    config = _config(dsdr={"lambda_d": 0.01, "sigma_d": 0.2})
    adv, _ = get_adv_estimator_fn("dsdr")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=config,
        dsdr_correct=torch.ones(4, dtype=torch.bool),
        dsdr_diversity=diversity,
    )
    shaped = 1.0 + 0.01 * torch.tensor([0.1, 0.2, 0.2, 0.2])
    expected = (shaped - shaped.mean()) / (shaped.std() + 1e-6)
    torch.testing.assert_close(adv[:, 0], expected, rtol=1e-3, atol=1e-3)
    assert adv[1, 0] == adv[2, 0] == adv[3, 0] > adv[0, 0]


def test_estimators_read_their_inputs_from_the_group_step_context():
    from verl_dsdr.methods import context

    rewards, mask, index, correct, diversity = _batch(7)
    config = _config()
    direct, _ = get_adv_estimator_fn("dsdr")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=config,
        dsdr_correct=correct,
        dsdr_diversity=diversity,
    )
    with context.step_inputs(index, {"dsdr_correct": correct, "dsdr_diversity": diversity}):
        published, _ = get_adv_estimator_fn("dsdr")(
            token_level_rewards=rewards, response_mask=mask, index=index, config=config
        )
        # a batch in another order is refused, never silently misaligned
        with pytest.raises(RuntimeError, match="not the batch"):
            get_adv_estimator_fn("dsdr")(
                token_level_rewards=rewards, response_mask=mask, index=index[::-1], config=config
            )
    assert torch.equal(published, direct)


def test_setpo_correct_only_needs_correctness():
    rewards, mask, index, _, _ = _batch(8)
    with pytest.raises(ValueError, match="setpo_correct"):
        get_adv_estimator_fn("setpo")(
            token_level_rewards=rewards,
            response_mask=mask,
            index=index,
            config=_config(setpo={"lambda_": 1.0, "correct_only": True}),
            setpo_contributions=torch.zeros(len(index)),
        )


def test_asym_grpo_reads_its_exponents_from_config():
    # One group, p = 1/4: correct gets +((1-p)/p)^beta_pos = 3^beta_pos, incorrect -(p/(1-p))^beta_neg = -(1/3)^beta_neg.
    mask = torch.ones(4, 2)
    rewards = torch.zeros(4, 2)
    rewards[0, -1] = 1.0
    index = np.array(["g"] * 4, dtype=object)
    adv, _ = get_adv_estimator_fn("asym_grpo")(
        token_level_rewards=rewards,
        response_mask=mask,
        index=index,
        config=_config(asym_grpo={"beta_pos": 1.0, "beta_neg": 2.0, "threshold": 0.0}),
    )
    torch.testing.assert_close(adv[:, 0], torch.tensor([3.0, -1 / 9, -1 / 9, -1 / 9]))
