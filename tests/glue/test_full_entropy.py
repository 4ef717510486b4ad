"""entropy_estimator=full: the chunked, checkpointed entropy verl runs under the settings main_ppo turns on
equals the plain full-softmax entropy in value and in gradient (CPU, no Ray)."""

import pytest
import torch
from torch.utils.checkpoint import checkpoint
from verl.utils import torch_functional as verl_F

from verl_dsdr.main_ppo import FULL_ENTROPY_ACTOR_SETTINGS


def _engine_entropy(logits: torch.Tensor, chunking: bool, checkpointing: bool) -> torch.Tensor:
    """What verl's FSDP engine computes for ``calculate_entropy`` (verl/workers/engine/fsdp/
    transformer_impl.py ~178-181 picks the function, ~1397-1409 calls it)."""
    fn = verl_F.entropy_from_logits_with_chunking if chunking else verl_F.entropy_from_logits
    if checkpointing:
        return checkpoint(fn, logits, use_reentrant=False)
    return fn(logits)


@pytest.mark.parametrize("rows", [7, 2048 + 517])  # one chunk, and several (verl's chunk is 2,048 rows)
def test_lean_entropy_equals_the_plain_path_in_value_and_gradient(rows):
    assert FULL_ENTROPY_ACTOR_SETTINGS == {
        "calculate_entropy": True, "entropy_from_logits_with_chunking": True, "entropy_checkpointing": True}
    gen = torch.Generator().manual_seed(rows)
    base = (torch.randn(rows, 97, generator=gen) * 3).requires_grad_(True)
    weights = torch.rand(rows, generator=gen)  # a loss that weighs tokens differently, like c_i / T_i
    plain = _engine_entropy(base, chunking=False, checkpointing=False)
    (plain_grad,) = torch.autograd.grad((weights * plain).sum(), base)
    lean = _engine_entropy(base, chunking=True, checkpointing=True)
    (lean_grad,) = torch.autograd.grad((weights * lean).sum(), base)
    torch.testing.assert_close(lean, plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lean_grad, plain_grad, rtol=1e-5, atol=1e-6)
    # and both are the entropy: H = -sum p log p
    p = torch.softmax(base.detach(), -1)
    torch.testing.assert_close(lean.detach(), -(p * torch.log(p)).sum(-1), rtol=1e-5, atol=1e-5)
