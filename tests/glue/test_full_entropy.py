"""entropy_estimator=full: verl's fused kernels (what main_ppo turns on) give the same log-probs and exact
entropy as the plain logits path, in value and in gradient (CPU, no Ray)."""

import pytest
import torch
from verl.utils import torch_functional as verl_F
from verl.utils.experimental.torch_functional import FusedLinearForPPO

from verl_dsdr.methods.dsdr import FULL_ENTROPY_SETTINGS


@pytest.mark.parametrize("tokens, temperature", [(7, 1.0), (700, 0.7)])  # one chunk, and two (512 tokens each)
def test_fused_kernels_equal_the_plain_path_in_value_and_gradient(tokens, temperature):
    assert FULL_ENTROPY_SETTINGS == {
        "actor_rollout_ref.actor.calculate_entropy": True,
        "actor_rollout_ref.model.use_fused_kernels": True,
    }
    gen = torch.Generator().manual_seed(tokens)
    hidden = torch.randn(2, tokens, 16, generator=gen).requires_grad_(True)
    lm_head = (torch.randn(50, 16, generator=gen) * 0.5).requires_grad_(True)
    labels = torch.randint(0, 50, (2, tokens), generator=gen)
    # a loss that weighs both outputs per token, like the policy term and c_i / T_i * lambda_l
    w_lp, w_h = torch.randn(2, tokens, generator=gen), torch.rand(2, tokens, generator=gen)

    # what verl's patched forward runs with use_fused_kernels (verl/models/transformers/dense_common.py ~121-126)
    log_probs, entropy = FusedLinearForPPO(chunk_size=512)(hidden, lm_head, labels, temperature)
    fused_grads = torch.autograd.grad((log_probs * w_lp + entropy * w_h).sum(), (hidden, lm_head))

    # the plain path: full logits, log-softmax at the sampled tokens, verl's entropy_from_logits
    logits = (hidden @ lm_head.T) / temperature
    plain_lp = torch.log_softmax(logits, -1).gather(-1, labels[..., None]).squeeze(-1)
    plain_h = verl_F.entropy_from_logits(logits)
    plain_grads = torch.autograd.grad((plain_lp * w_lp + plain_h * w_h).sum(), (hidden, lm_head))

    torch.testing.assert_close(log_probs, plain_lp, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(entropy, plain_h, rtol=1e-5, atol=1e-5)
    for fused, plain in zip(fused_grads, plain_grads):
        torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-4)
    p = torch.softmax(logits.detach(), -1)
    torch.testing.assert_close(entropy.detach(), -(p * torch.log(p)).sum(-1), rtol=1e-5, atol=1e-5)
