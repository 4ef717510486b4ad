"""A reference model on CPU: the KL loss and the KL penalty in the reward train through verl's trainer.

verl builds the reference model with ``CPUOffloadPolicy(pin_memory=True)``
(``verl/workers/engine/fsdp/transformer_impl.py:462``); pinning needs CUDA, so on CPU the
policy is built unpinned (``verl_dsdr.cpu.patches.patch_offload_pinning``). One run covers both
consumers of the reference log-probs: ``actor.use_kl_loss`` and ``algorithm.use_kl_in_reward``.
"""

import pytest

pytestmark = pytest.mark.integration

# At step 1 the policy is the reference model: both compute fp32 log-probs of the same weights,
# so the KL is zero up to float rounding (measured: exactly 0.0). At step 2 the policy has moved
# by one update at lr 1e-4 (measured: 1.07e-4).
SAME_WEIGHTS_KL = 1e-7
MOVED_KL = 1e-6


@pytest.fixture(scope="module")
def kl_run(asym_kl_saving):
    """AsymGRPO with ``use_kl_loss`` (coef 0.1, lr 1e-4) and ``use_kl_in_reward`` (conftest.py: the
    suite's saving run too)."""
    return asym_kl_saving.run


def test_kl_loss_and_kl_in_reward_train_on_cpu(kl_run):
    assert kl_run.returncode == 0, kl_run.tail()
    assert len(kl_run.series("actor/grad_norm")) == 2
    assert max(kl_run.series("actor/grad_norm")) > 0


def test_kl_loss_measures_distance_from_the_reference(kl_run):
    kl = kl_run.series("actor/kl_loss")
    assert len(kl) == 2, "the actor logged no KL loss: the reference log-probs did not arrive"
    assert abs(kl[0]) < SAME_WEIGHTS_KL, f"step 1: the reference differs from the initial policy (KL {kl})"
    assert kl[1] > MOVED_KL, f"step 2: the policy moved, yet the KL to the reference is {kl[1]:.2e} ({kl})"
    assert kl_run.series("actor/kl_coef") == [0.1, 0.1]


def test_kl_penalty_enters_the_reward(kl_run):
    penalty = kl_run.series("actor/reward_kl_penalty")
    assert len(penalty) == 2, "no KL penalty in the reward: algorithm.use_kl_in_reward did not run"
    assert abs(penalty[0]) < SAME_WEIGHTS_KL, penalty
    assert abs(penalty[1]) > MOVED_KL, penalty
    assert all(coeff > 0 for coeff in kl_run.series("actor/reward_kl_penalty_coeff"))
