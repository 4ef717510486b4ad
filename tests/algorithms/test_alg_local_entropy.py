"""Local, length-invariant, importance-sampled entropy estimate (Eq. 12-15)."""

import math

import pytest
import torch

from verl_dsdr.algorithms import LOG_RATIO_CLAMP, local_entropy, local_entropy_tokens, sequence_mean


def test_on_policy_estimate_is_minus_mean_log_prob():
    lp = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -7.0, -9.0], [-4.0, -4.0, -4.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    h = local_entropy(lp, lp.clone(), mask, detach_ratio=False)
    # rho = 1: row 0 -> (1+2+3)/3 = 2 ; row 1 -> 0.5 (only one valid token) ; row 2 all masked -> 0
    torch.testing.assert_close(h, torch.tensor([2.0, 0.5, 0.0]))
    assert h.dtype == torch.float32


def test_ratio_and_clamp():
    # log pi = -1, log pi_old = -2 -> rho = e -> -rho * log pi = e * 1
    h = local_entropy(torch.tensor([[-1.0]]), torch.tensor([[-2.0]]), torch.tensor([[True]]), detach_ratio=False)
    torch.testing.assert_close(h, torch.tensor([math.e]))
    # log-ratio 30 is clamped to 20: -exp(20) * (-1) = e^20
    h = local_entropy(torch.tensor([[-1.0]]), torch.tensor([[-31.0]]), torch.tensor([[True]]), detach_ratio=False)
    torch.testing.assert_close(h, torch.tensor([math.exp(LOG_RATIO_CLAMP)]))


def test_padding_values_never_leak():
    lp = torch.tensor([[-1.0, -math.inf], [-2.0, math.nan]], requires_grad=True)
    old = torch.tensor([[-1.0, 0.0], [-2.0, -math.inf]])
    mask = torch.tensor([[True, False], [True, False]])
    h = local_entropy(lp, old, mask, detach_ratio=False)
    torch.testing.assert_close(h, torch.tensor([1.0, 2.0]), equal_nan=False)
    h.sum().backward()
    assert torch.isfinite(lp.grad).all()
    # attached rho: d/dlp of -exp(lp - old) * lp at lp = old is -(lp + 1): -(-1+1) = 0, -(-2+1) = 1
    torch.testing.assert_close(lp.grad, torch.tensor([[0.0, 0.0], [1.0, 0.0]]))


def test_token_integrand_gradients_attached_and_detached():
    lp = torch.tensor([[-0.5, -2.0]], requires_grad=True)
    old = torch.tensor([[-0.7, -2.0]])
    local_entropy_tokens(lp, old, detach_ratio=False).sum().backward()
    # attached: d/dx [-exp(x - o) x] = -exp(x - o)(x + 1)
    # token 0: -e^{0.2} * 0.5 = -0.610701 ; token 1: -1 * (-1) = 1
    torch.testing.assert_close(lp.grad, torch.tensor([[-math.exp(0.2) * 0.5, 1.0]]))
    lp.grad = None
    local_entropy_tokens(lp, old, detach_ratio=True).sum().backward()
    # detached: -exp(x - o) -> token 0: -e^{0.2} = -1.221403 ; token 1: -1
    torch.testing.assert_close(lp.grad, torch.tensor([[-math.exp(0.2), -1.0]]))


def test_sequence_mean():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, math.nan, math.inf]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    # (1+2)/2 = 1.5 ; 4/1 = 4 (NaN and inf are masked out)
    torch.testing.assert_close(sequence_mean(x, mask), torch.tensor([1.5, 4.0]))
    with pytest.raises(ValueError, match=r"\[B, L\]"):
        sequence_mean(x, mask[:, :2])


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same shape|all be"):
        local_entropy(torch.zeros(2, 3), torch.zeros(2, 4), torch.ones(2, 3), detach_ratio=False)


def _categorical_policy(seed: int = 0, steps: int = 3, vocab: int = 5) -> torch.Tensor:
    return torch.randn(steps, vocab, generator=torch.Generator().manual_seed(seed)) * 1.5


def _exact_entropy_grad(theta: torch.Tensor) -> torch.Tensor:
    """Autograd of the exact time-averaged entropy (1/T) sum_t -sum_a p log p."""
    th = theta.clone().requires_grad_(True)
    logp = torch.log_softmax(th, -1)
    (-(logp.exp() * logp).sum(-1).mean()).backward()
    return th.grad


def _per_sample_is_grads(
    theta: torch.Tensor, theta_old: torch.Tensor, tokens: torch.Tensor, detach_ratio: bool
) -> torch.Tensor:
    """grad_theta of H_hat for every sampled sequence separately, [N, T, V]."""
    n = tokens.shape[0]
    th = theta.detach().repeat(n, 1, 1).requires_grad_(True)
    logp = torch.log_softmax(th, -1).gather(-1, tokens[..., None]).squeeze(-1)  # [N, T]
    old = torch.log_softmax(theta_old, -1).expand(n, -1, -1).gather(-1, tokens[..., None]).squeeze(-1)
    h = local_entropy(logp, old, torch.ones_like(tokens, dtype=torch.bool), detach_ratio)
    h.sum().backward()  # sequence n depends only on its own copy th[n]
    return th.grad


@pytest.mark.parametrize("off_policy", [False, True])
def test_is_gradient_is_exact_when_enumerated(off_policy):
    # Enumerate the expectation over o ~ pi_old exactly: sum_a pi_old(a) grad(-rho_a log pi(a)).
    # Attached rho: = -sum_a pi(a) grad log pi(a) (log pi(a) + 1) = grad H(pi), for any pi_old.
    # Detached rho: = -sum_a pi(a) grad log pi(a) = -grad sum_a pi(a) = 0 -- NOT an entropy
    # gradient (documented in docs/ALGORITHM.md).
    theta = _categorical_policy(steps=1, vocab=5)
    theta_old = theta + 0.3 * _categorical_policy(seed=7, steps=1, vocab=5) if off_policy else theta
    vocab = theta.shape[1]
    tokens = torch.arange(vocab)[:, None]  # each token once, as its own sequence of length 1
    p_old = torch.softmax(theta_old, -1)[0][:, None, None]
    attached = (p_old * _per_sample_is_grads(theta, theta_old, tokens, False)).sum(0)
    torch.testing.assert_close(attached, _exact_entropy_grad(theta), atol=1e-6, rtol=1e-5)
    detached = (p_old * _per_sample_is_grads(theta, theta_old, tokens, True)).sum(0)
    torch.testing.assert_close(detached, torch.zeros_like(detached), atol=1e-6, rtol=0)


def _sampled_grads(detach_ratio: bool, n: int = 20_000):
    theta = _categorical_policy(seed=0)
    steps = theta.shape[0]
    gen = torch.Generator().manual_seed(1)
    probs = torch.softmax(theta, -1)  # pi_old = pi_theta (on-policy, as in the first PPO epoch)
    tokens = torch.stack([torch.multinomial(probs[t], n, replacement=True, generator=gen) for t in range(steps)], 1)
    grads = _per_sample_is_grads(theta, theta, tokens, detach_ratio)
    return grads.mean(0), grads.std(0) / math.sqrt(n), _exact_entropy_grad(theta)


def test_is_gradient_matches_entropy_gradient_in_expectation():
    estimate, stderr, exact = _sampled_grads(detach_ratio=False)
    # Monte Carlo error of a mean of 20,000 i.i.d. per-sample gradients: within 5 standard errors
    # in every one of the 15 components (two-sided miss probability < 1e-5 in total). The
    # standard errors are small (< 0.01) next to the gradient (> 0.05 somewhere), so the check
    # has power against a wrong sign or a missing term.
    assert stderr.max() < 0.01
    assert exact.abs().max() > 0.05
    assert ((estimate - exact).abs() <= 5 * stderr + 1e-6).all(), (estimate, exact, stderr)


def test_detached_ratio_gradient_has_zero_mean():
    # With rho detached the per-token gradient is -rho * grad log pi, whose expectation is 0:
    # the sample mean sits within 5 standard errors of 0 and far from the entropy gradient.
    estimate, stderr, exact = _sampled_grads(detach_ratio=True)
    assert (estimate.abs() <= 5 * stderr + 1e-6).all(), (estimate, stderr)
    assert ((estimate - exact).abs() > 5 * stderr).any()
