"""The DSDR actor loss against verl's own ppo_loss and agg_loss (spec section 6)."""

import copy
from functools import partial

import pytest
import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu
from verl.utils.config import omega_conf_to_dataclass
from verl.workers.utils.losses import ppo_loss

from verl_dsdr.algorithms.dsdr import local_entropy
from verl_dsdr.loss import COEF_FIELD, LocalTermSettings, dsdr_ppo_loss


def _samples(n: int, seed: int) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        p, r = int(torch.randint(2, 5, (1,), generator=g)), int(torch.randint(1, 7, (1,), generator=g))
        out.append(
            {
                "prompt": torch.randint(0, 50, (p,), generator=g),
                "response": torch.randint(0, 50, (r,), generator=g),
                "log_prob": -torch.rand(r, generator=g) * 3 - 0.05,
                "old_log_prob": -torch.rand(r, generator=g) * 3 - 0.05,
                "advantage": torch.randn(1, generator=g).expand(r).clone(),
                "coef": torch.rand(1, generator=g).item() * 2,
            }
        )
    return out


def _micro_batch(samples: list[dict], global_tokens: int, global_size: int, log_prob_leaf: torch.Tensor, offsets):
    """A micro-batch as verl's engine hands it to the loss: jagged fields + global batch info."""
    nested = lambda key: torch.nested.as_nested_tensor([s[key] for s in samples], layout=torch.jagged)  # noqa: E731
    td = TensorDict(
        {
            "prompts": nested("prompt"),
            "responses": nested("response"),
            "old_log_probs": nested("old_log_prob"),
            "advantages": nested("advantage"),
            "response_mask": torch.nested.as_nested_tensor(
                [torch.ones_like(s["response"]) for s in samples], layout=torch.jagged
            ),
            COEF_FIELD: torch.tensor([s["coef"] for s in samples], dtype=torch.float32),
        },
        batch_size=len(samples),
    )
    tu.assign_non_tensor_data(td, "dp_size", 1)
    tu.assign_non_tensor_data(td, "batch_num_tokens", global_tokens)
    tu.assign_non_tensor_data(td, "global_batch_size", global_size)
    # The model's flat (unpadded) output: the log-prob of response token t sits at prompt_len - 1 + t.
    total = sum(len(s["prompt"]) + len(s["response"]) for s in samples)
    leaf_index = torch.cat([torch.arange(start, end) for start, end in offsets])
    flat = torch.zeros(total).index_put((_positions(samples),), log_prob_leaf[leaf_index])
    return td, {"log_probs": flat}


def _positions(samples):
    pos, base = [], 0
    for s in samples:
        p, r = len(s["prompt"]), len(s["response"])
        pos += [base + p - 1 + t for t in range(r)]
        base += p + r
    return torch.tensor(pos)


def _actor_config(compose_config, *overrides):
    cfg = compose_config(
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4", "actor_rollout_ref.actor.ppo_mini_batch_size=8", *overrides
    )
    return omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)


def _run(loss_fn, samples, splits, leaf):
    """Sum of micro-batch losses (what gradient accumulation sums) for a given split."""
    tokens = sum(len(s["response"]) for s in samples)
    offsets, start = [], 0
    for s in samples:
        offsets.append((start, start + len(s["response"])))
        start += len(s["response"])
    total, metrics = 0.0, []
    for chunk in splits:
        td, out = _micro_batch([samples[i] for i in chunk], tokens, len(samples), leaf, [offsets[i] for i in chunk])
        loss, m = loss_fn(model_output=out, data=td, dp_group=None)
        total = total + loss
        metrics.append(m)
    return total, metrics


@pytest.fixture(scope="module")
def batch():
    samples = _samples(8, seed=3)
    leaf = torch.cat([s["log_prob"] for s in samples]).requires_grad_(True)
    return samples, leaf


def test_lambda_zero_is_verl_ppo_loss_exactly(compose_config, batch):
    samples, leaf = batch
    config = _actor_config(compose_config)
    base = partial(ppo_loss, config=copy.deepcopy(config))
    dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=LocalTermSettings(lambda_l=0.0))
    split = [list(range(8))]
    expected, _ = _run(base, samples, split, leaf)
    got, _ = _run(dsdr, samples, split, leaf)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"])
def test_local_term_same_for_1_2_4_micro_batches(compose_config, batch, agg):
    samples, leaf = batch
    config = _actor_config(compose_config, f"actor_rollout_ref.actor.loss_agg_mode={agg}")
    settings = LocalTermSettings(lambda_l=0.5)
    results = []
    for splits in ([list(range(8))], [[0, 1, 2, 3], [4, 5, 6, 7]], [[0, 1], [2, 3], [4, 5], [6, 7]]):
        dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=settings)
        base = partial(ppo_loss, config=copy.deepcopy(config))
        total, _ = _run(dsdr, samples, splits, leaf)
        pg, _ = _run(base, samples, splits, leaf)
        grad = torch.autograd.grad(total, leaf)[0]
        results.append((total.detach(), (total - pg).detach(), grad))
    for total, local, grad in results[1:]:
        torch.testing.assert_close(total, results[0][0], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(local, results[0][1], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(grad, results[0][2], rtol=1e-5, atol=1e-7)


def test_local_term_value_is_lambda_times_mean_of_coef_times_h_hat(compose_config, batch):
    # -lambda_l * (1/B) sum_i c_i * H_hat_i, with H_hat_i = -(1/T_i) sum_t rho_it * log pi_it.
    samples, leaf = batch
    config = _actor_config(compose_config)
    lam = 0.25
    dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=LocalTermSettings(lambda_l=lam))
    base = partial(ppo_loss, config=copy.deepcopy(config))
    split = [[0, 1, 2], [3, 4, 5, 6, 7]]
    total, metrics = _run(dsdr, samples, split, leaf)
    pg, _ = _run(base, samples, split, leaf)
    padded = lambda key: torch.nn.utils.rnn.pad_sequence([s[key] for s in samples], batch_first=True)  # noqa: E731
    mask = torch.nn.utils.rnn.pad_sequence([torch.ones(len(s["response"])) for s in samples], batch_first=True)
    h_hat = local_entropy(padded("log_prob"), padded("old_log_prob"), mask)
    coef = torch.tensor([s["coef"] for s in samples])
    expected_local = (coef * h_hat).mean()
    torch.testing.assert_close((pg - total).detach(), lam * expected_local, rtol=1e-5, atol=1e-7)
    reported = sum(float(v) for m in metrics for v in m["dsdr/local_term"].values)
    assert reported == pytest.approx(float(lam * expected_local), rel=1e-5)


def test_full_estimator_requires_entropy(compose_config, batch):
    samples, leaf = batch
    config = _actor_config(compose_config)
    dsdr = partial(dsdr_ppo_loss, config=config, settings=LocalTermSettings(lambda_l=0.1, entropy_estimator="full"))
    with pytest.raises(RuntimeError, match="calculate_entropy"):
        _run(dsdr, samples, [list(range(8))], leaf)
