"""Token entropy of a policy on its own responses: how sure the final policy is when right and when wrong.

For each evaluation row the response is re-read under the policy (teacher forcing) and the entropy
of the full next-token distribution at temperature 1 is averaged over the response's tokens,
its end-of-sequence token included. The prompt is rebuilt from the row's question exactly as the
rollout built it (the chat template with the assistant turn opened).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from verl_dsdr.assets.task import parse_question
from verl_dsdr.assets.tokenizer import EOS_TOKEN, PAD_TOKEN, token_id
from verl_dsdr.assets.warm_start import prompt_ids, sft_batch

__all__ = ["mean_token_entropy", "response_entropies"]


def mean_token_entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of ``softmax(logits)`` over the positions where ``mask`` is true.

    Args:
        logits: ``(batch, length, vocab)`` next-token logits.
        mask: ``(batch, length)`` bool, the positions that predict a response token.

    Returns:
        ``(batch,)`` mean entropy per row (0 for a row with no masked position).
    """
    log_p = torch.log_softmax(logits.float(), dim=-1)
    entropy = -(log_p.exp() * log_p).sum(-1)
    weights = mask.float()
    return (entropy * weights).sum(-1) / weights.sum(-1).clamp(min=1.0)


@torch.no_grad()
def response_entropies(
    model_dir: str | Path, tokenizer_dir: str | Path, rows: Sequence[dict], batch_size: int = 128
) -> list[float]:
    """Mean token entropy of every row's ``response`` under the model in ``model_dir``, in row order."""
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    eos_id = token_id(tokenizer, EOS_TOKEN)
    pad_id = token_id(tokenizer, PAD_TOKEN)
    examples = [
        (
            prompt_ids(tokenizer, parse_question(str(row["problem_id"]))),
            tokenizer.encode(str(row["response"]), add_special_tokens=False) + [eos_id],
        )
        for row in rows
    ]
    out: list[float] = []
    for start in range(0, len(examples), batch_size):
        input_ids, attention_mask, labels = sft_batch(examples[start : start + batch_size], pad_id)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        # logits[:, t] predicts token t + 1: a position counts when the next token is a response token.
        mask = labels[:, 1:] != -100
        out.extend(mean_token_entropy(logits[:, :-1], mask).tolist())
    return out
