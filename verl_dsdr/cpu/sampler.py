"""Batched token-in/token-out sampling with Hugging Face ``generate`` (no verl import).

The CPU rollout server collects the requests that arrive together and samples them as one
left-padded batch: one ``generate`` call per distinct set of sampling parameters instead of
one call per request. Log-probs are those of the sampled tokens under the
temperature-scaled, unfiltered distribution, which is what verl's actor recomputes
(``logits / temperature``, log-softmax), so ``rollout_probs_diff`` stays at float noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import torch
from transformers import GenerationConfig, PreTrainedModel

if TYPE_CHECKING:
    from transformers.generation.utils import GenerateDecoderOnlyOutput


@dataclass(frozen=True)
class SamplingKey:
    """The sampling parameters that must be equal within one ``generate`` call."""

    temperature: float
    top_p: float
    top_k: int

    @classmethod
    def from_params(cls, params: dict) -> SamplingKey:
        top_k = int(params.get("top_k", -1) or -1)
        return cls(
            temperature=float(params.get("temperature", 1.0)),
            top_p=float(params.get("top_p", 1.0)),
            top_k=top_k if top_k > 0 else 0,  # verl's -1 (off) is HF's 0 (off)
        )


@dataclass
class SampleRequest:
    prompt_ids: list[int]
    key: SamplingKey
    max_tokens: int


@dataclass
class SampleResult:
    token_ids: list[int]
    log_probs: list[float]
    stop_reason: str  # "completed" (hit eos) or "length"
    extra: dict = field(default_factory=dict)


def _generation_config(key: SamplingKey, max_new_tokens: int, eos_ids: Sequence[int], pad_id: int) -> GenerationConfig:
    greedy = key.temperature <= 0.0
    # An explicit config: the model's own generation_config.json (top_k=50 and the like)
    # must not leak into RL sampling.
    return GenerationConfig(
        do_sample=not greedy,
        temperature=None if greedy else key.temperature,
        top_p=None if greedy else key.top_p,
        top_k=None if greedy else key.top_k,
        max_new_tokens=max_new_tokens,
        eos_token_id=list(eos_ids),
        pad_token_id=pad_id,
        return_dict_in_generate=True,
        output_logits=True,
        repetition_penalty=1.0,
    )


@torch.no_grad()
def sample_batch(
    model: PreTrainedModel,
    requests: Sequence[SampleRequest],
    eos_ids: Sequence[int],
    pad_id: int,
) -> list[SampleResult]:
    """Sample every request of ``requests`` (same :class:`SamplingKey`) in one padded batch."""
    if not requests:
        return []
    key = requests[0].key
    if any(r.key != key for r in requests):
        raise ValueError("sample_batch needs requests with identical sampling parameters; group them first")
    device = next(model.parameters()).device
    max_prompt = max(len(r.prompt_ids) for r in requests)
    max_new = max(r.max_tokens for r in requests)
    input_ids = torch.full((len(requests), max_prompt), pad_id, dtype=torch.long)
    attention = torch.zeros((len(requests), max_prompt), dtype=torch.long)
    for row, request in enumerate(requests):  # left padding: generation continues from the right edge
        n = len(request.prompt_ids)
        input_ids[row, max_prompt - n :] = torch.tensor(request.prompt_ids, dtype=torch.long)
        attention[row, max_prompt - n :] = 1
    # PreTrainedModel declares no ``generate``: GenerationMixin is mixed into the concrete class
    # AutoModelForCausalLM loads, and generate's self-type protocol rejects transformers' own classes
    # under mypy. With return_dict_in_generate=True and no beams it returns a GenerateDecoderOnlyOutput.
    generate = cast(Callable[..., Any], model.generate)
    out: GenerateDecoderOnlyOutput = generate(
        input_ids=input_ids.to(device),
        attention_mask=attention.to(device),
        generation_config=_generation_config(key, max_new, eos_ids, pad_id),
    )
    new_tokens = out.sequences[:, max_prompt:].cpu()
    if out.logits is None:  # output_logits=True above always fills it
        raise TypeError("generate returned no logits although output_logits=True")
    logits = torch.stack(out.logits, dim=1).float().cpu()  # [B, T, V], raw (before warpers)
    scale = key.temperature if key.temperature > 0 else 1.0
    log_probs = torch.log_softmax(logits / scale, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
    eos = set(int(e) for e in eos_ids)
    results = []
    for row, request in enumerate(requests):
        tokens = new_tokens[row].tolist()
        end, reason = min(len(tokens), request.max_tokens), "length"
        for t, token in enumerate(tokens[:end]):
            if token in eos:
                end, reason = t + 1, "completed"  # keep the eos token, as vLLM does
                break
        results.append(SampleResult(tokens[:end], log_probs[row, :end].tolist(), reason))
    return results


def group_by_key(requests: Sequence[SampleRequest]) -> dict[SamplingKey, list[int]]:
    """Indices of ``requests`` grouped by sampling parameters (order kept within a group)."""
    groups: dict[SamplingKey, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.key, []).append(i)
    return groups


def resolve_eos_ids(generation_eos: object | None, tokenizer_eos: int | None) -> list[int]:
    """The stop tokens: the generation config's eos (int or list), else the tokenizer's."""
    ids: list[int] = []
    if isinstance(generation_eos, int):
        ids = [generation_eos]
    elif isinstance(generation_eos, (list, tuple)):
        ids = [int(e) for e in generation_eos]
    if not ids and tokenizer_eos is not None:
        ids = [int(tokenizer_eos)]
    if not ids:
        raise ValueError("the model has no eos token: set eos_token_id in generation_config.json or the tokenizer")
    return ids
