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
from verl_dsdr.methods.dsdr import COEF, DSDRConfig, dsdr_ppo_loss


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


def _micro_batch(
    samples: list[dict],
    global_tokens: int,
    global_size: int,
    log_prob_leaf: torch.Tensor,
    offsets,
    dp_size: int = 1,
    entropy_leaf: torch.Tensor | None = None,
):
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
            COEF: torch.tensor([s["coef"] for s in samples], dtype=torch.float32),
        },
        batch_size=len(samples),
    )
    tu.assign_non_tensor_data(td, "dp_size", dp_size)
    tu.assign_non_tensor_data(td, "batch_num_tokens", global_tokens)
    tu.assign_non_tensor_data(td, "global_batch_size", global_size)
    # The model's flat (unpadded) output: the log-prob of response token t sits at prompt_len - 1 + t.
    total = sum(len(s["prompt"]) + len(s["response"]) for s in samples)
    leaf_index = torch.cat([torch.arange(start, end) for start, end in offsets])
    flat = torch.zeros(total).index_put((_positions(samples),), log_prob_leaf[leaf_index])
    output = {"log_probs": flat}
    if entropy_leaf is not None:
        output["entropy"] = torch.zeros(total).index_put((_positions(samples),), entropy_leaf[leaf_index])
    return td, output


def _positions(samples):
    pos, base = [], 0
    for s in samples:
        p, r = len(s["prompt"]), len(s["response"])
        pos += [base + p - 1 + t for t in range(r)]
        base += p + r
    return torch.tensor(pos)


def _actor_config(compose_config, *overrides):
    cfg = compose_config(
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
        "actor_rollout_ref.actor.ppo_mini_batch_size=8",
        *overrides,
    )
    return omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)


def _run(loss_fn, samples, splits, leaf, dp_size=1, entropy=None):
    """Sum of micro-batch losses (what gradient accumulation sums) for a given split."""
    tokens = sum(len(s["response"]) for s in samples)
    offsets, start = [], 0
    for s in samples:
        offsets.append((start, start + len(s["response"])))
        start += len(s["response"])
    total, metrics = 0.0, []
    for chunk in splits:
        td, out = _micro_batch(
            [samples[i] for i in chunk],
            tokens,
            len(samples),
            leaf,
            [offsets[i] for i in chunk],
            dp_size=dp_size,
            entropy_leaf=entropy,
        )
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
    dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=DSDRConfig(lambda_l=0.0))
    split = [list(range(8))]
    expected, _ = _run(base, samples, split, leaf)
    got, _ = _run(dsdr, samples, split, leaf)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"])
def test_local_term_same_for_1_2_4_micro_batches(compose_config, batch, agg):
    samples, leaf = batch
    config = _actor_config(compose_config, f"actor_rollout_ref.actor.loss_agg_mode={agg}")
    settings = DSDRConfig(lambda_l=0.5)
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
    dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=DSDRConfig(lambda_l=lam))
    base = partial(ppo_loss, config=copy.deepcopy(config))
    split = [[0, 1, 2], [3, 4, 5, 6, 7]]
    total, metrics = _run(dsdr, samples, split, leaf)
    pg, _ = _run(base, samples, split, leaf)
    padded = lambda key: torch.nn.utils.rnn.pad_sequence([s[key] for s in samples], batch_first=True)  # noqa: E731
    mask = torch.nn.utils.rnn.pad_sequence([torch.ones(len(s["response"])) for s in samples], batch_first=True)
    h_hat = local_entropy(padded("log_prob"), padded("old_log_prob"), mask, detach_ratio=False)
    coef = torch.tensor([s["coef"] for s in samples])
    expected_local = (coef * h_hat).mean()
    torch.testing.assert_close((pg - total).detach(), lam * expected_local, rtol=1e-5, atol=1e-7)
    reported = sum(float(v) for m in metrics for v in m["dsdr/local_term"].values)
    assert reported == pytest.approx(float(lam * expected_local), rel=1e-5)


def test_full_estimator_requires_entropy(compose_config, batch):
    samples, leaf = batch
    config = _actor_config(compose_config)
    dsdr = partial(dsdr_ppo_loss, config=config, settings=DSDRConfig(lambda_l=0.1, entropy_estimator="full"))
    with pytest.raises(RuntimeError, match="calculate_entropy"):
        _run(dsdr, samples, [list(range(8))], leaf)


def _padded(samples, key):
    return torch.nn.utils.rnn.pad_sequence([s[key] for s in samples], batch_first=True)


def _mask(samples):
    return torch.nn.utils.rnn.pad_sequence([torch.ones(len(s["response"])) for s in samples], batch_first=True)


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"])
def test_data_parallel_ranks_sum_to_the_single_rank_loss(compose_config, batch, agg):
    """Two ranks with half the samples each (dp_size=2, verl's global_batch_info): the gradient FSDP
    averages across ranks equals the one-rank gradient, for the policy term and for the local term."""
    samples, leaf = batch
    config = _actor_config(compose_config, f"actor_rollout_ref.actor.loss_agg_mode={agg}")
    settings = DSDRConfig(lambda_l=0.5)
    dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=settings)
    base = partial(ppo_loss, config=copy.deepcopy(config))
    one_rank, _ = _run(dsdr, samples, [[0, 1, 2], [3, 4, 5, 6, 7]], leaf)
    one_rank_pg, _ = _run(base, samples, [list(range(8))], leaf)
    ranks, ranks_pg = [], []
    for rank_samples in ([0, 1, 2, 3], [4, 5, 6, 7]):
        # each rank sees only its samples, but the global token and sample counts
        tokens = sum(len(s["response"]) for s in samples)
        chunks = [rank_samples[:2], rank_samples[2:]]
        loss, pg = 0.0, 0.0
        offsets, start = [], 0
        for s in samples:
            offsets.append((start, start + len(s["response"])))
            start += len(s["response"])
        for chunk in chunks:
            td, out = _micro_batch(
                [samples[i] for i in chunk], tokens, len(samples), leaf, [offsets[i] for i in chunk], dp_size=2
            )
            loss = loss + dsdr(model_output=out, data=td, dp_group=None)[0]
            td, out = _micro_batch(
                [samples[i] for i in chunk], tokens, len(samples), leaf, [offsets[i] for i in chunk], dp_size=2
            )
            pg = pg + base(model_output=out, data=td, dp_group=None)[0]
        ranks.append(loss)
        ranks_pg.append(pg)
    averaged = (ranks[0] + ranks[1]) / 2  # what FSDP's gradient all-reduce (AVG) makes of the two ranks
    torch.testing.assert_close(averaged, one_rank, rtol=1e-6, atol=1e-7)
    local_one_rank = (one_rank_pg - one_rank).detach()
    local_two_ranks = ((ranks_pg[0] + ranks_pg[1]) / 2 - averaged).detach()
    assert float(local_one_rank) != 0.0
    torch.testing.assert_close(local_two_ranks, local_one_rank, rtol=1e-6, atol=1e-7)
    grad_one = torch.autograd.grad(one_rank, leaf)[0]
    grad_two = torch.autograd.grad((ranks[0] + ranks[1]) / 2, leaf)[0]
    torch.testing.assert_close(grad_two, grad_one, rtol=1e-5, atol=1e-7)


def test_full_estimator_subtracts_lambda_times_mean_of_coef_times_exact_entropy(compose_config, batch):
    # entropy_estimator=full: H_hat_i = (1/T_i) sum_t H_it with H the model's exact next-token entropy.
    samples, leaf = batch
    config = _actor_config(compose_config)
    gen = torch.Generator().manual_seed(11)
    entropy = (torch.rand(leaf.shape[0], generator=gen) * 2 + 0.1).requires_grad_(True)
    lam = 0.3
    dsdr = partial(
        dsdr_ppo_loss, config=copy.deepcopy(config), settings=DSDRConfig(lambda_l=lam, entropy_estimator="full")
    )
    base = partial(ppo_loss, config=copy.deepcopy(config))
    split = [[0, 1, 2, 3], [4, 5, 6, 7]]
    total, _ = _run(dsdr, samples, split, leaf, entropy=entropy)
    pg, _ = _run(base, samples, split, leaf)
    lengths = [len(s["response"]) for s in samples]
    per_sample = torch.stack([chunk.mean() for chunk in torch.split(entropy.detach(), lengths)])
    coef = torch.tensor([s["coef"] for s in samples])
    expected_local = (coef * per_sample).mean()
    assert expected_local > 0
    torch.testing.assert_close((pg - total).detach(), lam * expected_local, rtol=1e-5, atol=1e-7)
    # d loss / d H_it = -lambda * c_i / (B * T_i): raising the entropy lowers the loss.
    grad = torch.autograd.grad(total, entropy)[0]
    expected = torch.cat([torch.full((t,), -lam * c / (len(samples) * t)) for t, c in zip(lengths, coef.tolist())])
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-8)


def test_detach_ratio_keeps_the_value_and_changes_the_gradient(compose_config, batch):
    # Eq. 13: attached rho gives d/dlp [-rho lp] = -rho (lp + 1); detached rho gives -rho.
    samples, leaf = batch
    config = _actor_config(compose_config)
    lam = 0.5
    split = [[0, 1, 2, 3], [4, 5, 6, 7]]
    base = partial(ppo_loss, config=copy.deepcopy(config))
    pg, _ = _run(base, samples, split, leaf)
    pg_grad = torch.autograd.grad(pg, leaf)[0]
    old = torch.cat([s["old_log_prob"] for s in samples])
    rho = torch.exp(leaf.detach() - old)
    lengths = [len(s["response"]) for s in samples]
    scale = torch.cat([torch.full((t,), s["coef"] / (len(samples) * t)) for t, s in zip(lengths, samples)])
    values = []
    for detach in (False, True):
        dsdr = partial(
            dsdr_ppo_loss, config=copy.deepcopy(config), settings=DSDRConfig(lambda_l=lam, detach_ratio=detach)
        )
        total, _ = _run(dsdr, samples, split, leaf)
        local_grad = torch.autograd.grad(total, leaf)[0] - pg_grad  # gradient of -lambda * J_local
        integrand = rho if detach else rho * (leaf.detach() + 1)
        torch.testing.assert_close(local_grad, lam * scale * integrand, rtol=1e-4, atol=1e-7)
        values.append(total.detach())
    torch.testing.assert_close(values[0], values[1])


def test_micro_batches_that_split_groups_give_the_prompt_mean(compose_config, batch):
    """Groups split across micro-batches: the summed local term is lambda * mean over prompts of
    sum_{i in group} w_i H_hat_i (spec section 6), with c_i = G w_i computed once per batch."""
    from verl_dsdr.algorithms.dsdr import loss_coefficients

    samples, leaf = batch
    index = ["a", "a", "a", "a", "b", "b", "b", "b"]
    w = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0, 0.5, 0.5, 0.0])
    coef = loss_coefficients(w, index)
    samples = [dict(s, coef=float(c)) for s, c in zip(samples, coef)]
    config = _actor_config(compose_config)
    lam = 0.2
    dsdr = partial(dsdr_ppo_loss, config=copy.deepcopy(config), settings=DSDRConfig(lambda_l=lam))
    base = partial(ppo_loss, config=copy.deepcopy(config))
    split = [[0, 5], [1, 2, 6], [3, 4, 7]]  # every micro-batch holds members of both groups
    total, metrics = _run(dsdr, samples, split, leaf)
    pg, _ = _run(base, samples, split, leaf)
    h = local_entropy(
        _padded(samples, "log_prob"), _padded(samples, "old_log_prob"), _mask(samples), detach_ratio=False
    )
    prompt_mean = ((w[:4] * h[:4]).sum() + (w[4:] * h[4:]).sum()) / 2
    torch.testing.assert_close((pg - total).detach(), lam * prompt_mean, rtol=1e-5, atol=1e-7)
    reported = sum(float(v) for m in metrics for v in m["dsdr/local_term"].values)
    assert reported == pytest.approx(float(lam * prompt_mean), rel=1e-5)
