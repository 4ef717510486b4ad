"""Trainer-side group step from reward extras: padding rows, missing extras, metrics by hand."""

import numpy as np
import pytest
import torch

from verl_dsdr.methods import method
from verl_dsdr.methods.base import group_outcomes
from verl_dsdr.methods.dsdr import DSDRConfig, dsdr_metrics, dsdr_stats
from verl_dsdr.methods.setpo import SetPOConfig, setpo_stats
from verl_dsdr.methods.wire import EMBEDDING, FORMULAS, decode_batch, formula_hashes

SETTINGS = DSDRConfig(peers="all", semantic_weight=0.5, tau=5.0, sigma_d=1.0, coupling="softmax", lambda_d=0.001)
DSDR_FIELDS = method("dsdr").reward_fields(SETTINGS)  # formula set and embedding
SETPO_FIELDS = method("setpo").reward_fields(SetPOConfig())  # embedding only


def _extra(correct, emb, formulas):
    return {"reward_extra_info": {"dsdr_correct": float(correct), "dsdr_embedding": emb, "dsdr_formulas": formulas}}


def _batch():
    # Group "a": two correct rollouts with orthogonal embeddings and disjoint formulas, one wrong duplicate of the
    # first. Group "b": all wrong. Last row: verl padding (copies row 0's extras, uid "pad").
    extras = [
        _extra(1, [1.0, 0.0], ["x=1"]),
        _extra(1, [0.0, 1.0], ["y=2"]),
        _extra(0, [1.0, 0.0], ["x=1"]),
        _extra(0, [1.0, 0.0], []),
        _extra(0, [1.0, 0.0], []),
        _extra(1, [1.0, 0.0], ["x=1"]),
    ]
    uids = ["a", "a", "a", "b", "b", "pad"]
    padding = [False, False, False, False, False, True]
    return extras, uids, padding


def test_stats_by_hand_and_padding_rows_are_zero():
    extras, uids, padding = _batch()
    inputs = decode_batch(extras, uids, padding, DSDR_FIELDS)
    assert inputs.correct.tolist() == [True, True, False, False, False, False]  # padding never correct
    stats = dsdr_stats(inputs, SETTINGS)
    # D_emb row0: distances to row1 (orthogonal) = 1/2, to row2 (identical) = 0 -> mean 0.25.
    # D_emb row1: both others orthogonal -> 0.5. D_eq row0: "x=1" also in row2 -> 0; row1: "y=2" unique -> 1.
    torch.testing.assert_close(stats.semantic[:3], torch.tensor([0.25, 0.5, 0.25]))
    torch.testing.assert_close(stats.formula[:3], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(stats.diversity[:3], torch.tensor([0.125, 0.75, 0.125]))
    # Coupling over the correct rows 0, 1: softmax(5 * [0.125, 0.75]); c_i = G * w_i with G = 3.
    w = torch.softmax(torch.tensor([0.625, 3.75]), 0)
    torch.testing.assert_close(stats.weights[:2], w)
    torch.testing.assert_close(stats.coef[:2], 3 * w)
    assert stats.weights[2:].abs().sum() == 0 and stats.coef[5] == 0 and stats.diversity[5] == 0


def test_the_reward_workers_wire_form_gives_the_same_stats():
    """What the reward workers send (float32 arrays, the keys' 64-bit digests) decodes to the same
    group step as plain lists of floats and key strings."""
    extras, uids, padding = _batch()
    wired = [
        {
            "reward_extra_info": {
                **e["reward_extra_info"],
                "dsdr_embedding": np.asarray(e["reward_extra_info"]["dsdr_embedding"], dtype=np.float32),
                "dsdr_formulas": formula_hashes(e["reward_extra_info"]["dsdr_formulas"]),
            }
        }
        for e in extras
    ]
    plain, fast = decode_batch(extras, uids, padding, DSDR_FIELDS), decode_batch(wired, uids, padding, DSDR_FIELDS)
    torch.testing.assert_close(fast.fields[EMBEDDING], plain.fields[EMBEDDING])
    assert fast.fields[FORMULAS].sizes.tolist() == [1, 1, 1, 0, 0, 0]  # the padding row has none
    a, b = dsdr_stats(plain, SETTINGS), dsdr_stats(fast, SETTINGS)
    for name in ("semantic", "formula", "diversity", "weights", "coef"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name))


def test_formula_digests_are_stable_and_distinct():
    keys = formula_hashes(["x=1", "y=2", "x=1"])
    assert keys.dtype == np.int64 and keys.tolist() == sorted(keys.tolist()) and len(keys) == 2
    # The same number in every process (not Python's salted hash): pinned value of "x=1".
    assert formula_hashes(["x=1"]).tolist() == [-4259715217221934969]
    assert formula_hashes([]).size == 0


def test_metrics_by_hand():
    extras, uids, padding = _batch()
    inputs = decode_batch(extras, uids, padding, DSDR_FIELDS)
    m = dsdr_metrics(inputs, dsdr_stats(inputs, SETTINGS), SETTINGS)
    m.update(group_outcomes(inputs.index, inputs.correct, inputs.real))  # logged once, by the group trainer
    assert m["groups/frac_all_wrong"] == 0.5 and m["groups/frac_mixed"] == 0.5 and m["groups/frac_all_correct"] == 0.0
    assert m["dsdr/d_correct_mean"] == pytest.approx((0.125 + 0.75) / 2)
    assert m["dsdr/bonus_mean"] == pytest.approx(0.001 * (0.125 + 0.75) / 5)  # over the 5 real rollouts
    assert m["groups/frac_mixed"] == 0.5


def test_missing_extras_name_the_reward_manager_setting():
    extras, uids, padding = _batch()
    del extras[1]["reward_extra_info"]["dsdr_embedding"]
    with pytest.raises(ValueError, match="reward.reward_manager.name=dsdr"):
        decode_batch(extras, uids, padding, DSDR_FIELDS)


def test_setpo_contributions_zero_on_padding():
    extras, uids, padding = _batch()
    inputs = decode_batch(extras, uids, padding, SETPO_FIELDS)
    s = setpo_stats(inputs)
    assert s[5] == 0 and torch.isfinite(s).all()
    assert s[1] > s[0]  # the isolated rollout contributes more to set diversity


def test_group_outcomes_counts_real_groups_only():
    out = group_outcomes(
        np.array(["a", "a", "b", "b", "pad"]),
        torch.tensor([1, 1, 0, 1, 1]).bool(),
        torch.tensor([1, 1, 1, 1, 0]).bool(),
    )
    assert out == {"groups/frac_all_correct": 0.5, "groups/frac_all_wrong": 0.0, "groups/frac_mixed": 0.5}


def test_peers_correct_measures_diversity_against_correct_rollouts_only():
    # Group "a": rows 0, 1 correct, row 2 wrong and identical to row 0. With peers=correct, row 0's only
    # peer is row 1 (orthogonal): D_emb = 1/2 (not 1/4), and "x=1" is unique among correct peers: D_eq = 1.
    extras, uids, padding = _batch()
    inputs = decode_batch(extras, uids, padding, DSDR_FIELDS)
    stats = dsdr_stats(inputs, DSDRConfig(peers="correct"))
    torch.testing.assert_close(stats.semantic[:2], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(stats.formula[:2], torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(stats.diversity[:2], torch.tensor([0.75, 0.75]))
    # equal d -> equal coupling weights over the two correct rollouts
    torch.testing.assert_close(stats.weights[:2], torch.tensor([0.5, 0.5]))


def test_group_step_hands_the_estimator_its_inputs_and_the_loss_its_coefficients():
    from verl_dsdr.methods.dsdr import COEF

    extras, uids, padding = _batch()
    inputs = decode_batch(extras, uids, padding, DSDR_FIELDS)
    result = method("dsdr").group_step(inputs, SETTINGS)
    stats = dsdr_stats(inputs, SETTINGS)
    assert torch.equal(result.estimator_inputs["dsdr_correct"], inputs.correct)
    assert torch.equal(result.estimator_inputs["dsdr_diversity"], stats.diversity)
    assert torch.equal(result.sample_fields[COEF], stats.coef)
