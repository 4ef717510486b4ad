"""Remove-padding on CPU: one packed row gives the same log-probs as the padded batch.

With ``use_remove_padding=True`` verl's FSDP engine
(``verl/workers/engine/fsdp/transformer_impl.py`` ``prepare_model_inputs``, ~1182-1260) calls
the model on one row holding every sequence back to back, with position ids restarting at 0
for each sequence and no attention mask. Nothing but the restarting position ids tells the
model where one sequence ends: with sdpa on CPU (no flash-attn varlen kernels), transformers
5.9 turns them into a block-diagonal causal mask (``transformers/masking_utils.py``). If that
detection changed, every packed sequence would attend to the ones before it and the actor's
log-probs would silently be wrong; this test pins it. The padded path is verl's other branch
(~1274-1308): right-padded rows with an attention mask. verl's ``apply_monkey_patch`` replaces
only flash-attention functions for these models, which sdpa never calls, so the plain model is
what the engine runs on CPU.
"""

import pytest
import torch
from transformers import AutoModelForCausalLM, Qwen2Config, Qwen3Config

LENGTHS = (7, 12, 3, 9)  # different lengths, so the padded batch really pads
VOCAB = 97
TOLERANCE = 1e-5  # fp32; measured differences are ~1e-6
MIN_LEAK_EFFECT = 1e-2  # the control: attending across sequences moves log-probs at least this much


def tiny_model(config_cls):
    """A small random causal LM of the scripts' families (Qwen2.5 is Qwen2, Qwen3), sdpa attention.

    The initializer range is large so that predictions depend strongly on the context: with
    verl's default 0.02 every log-prob is ~-log(vocab), and a leak between sequences would hide.
    """
    torch.manual_seed(0)
    config = config_cls(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        initializer_range=0.5,
        tie_word_embeddings=False,
    )
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    return model.eval()


def sequences() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(1, VOCAB, (n,), generator=generator) for n in LENGTHS]


def next_token_log_probs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token[t+1] | ...) for t < len - 1, as verl gathers them (rolled labels)."""
    return torch.log_softmax(logits[:-1].float(), dim=-1).gather(-1, tokens[1:].unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def padded_log_probs(model, seqs: list[torch.Tensor]) -> list[torch.Tensor]:
    """verl's padded branch: right-padded rows, positions 0..n-1, attention mask over real tokens."""
    width = max(len(s) for s in seqs)
    input_ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    positions = torch.arange(width).expand(len(seqs), width)
    logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False).logits
    return [next_token_log_probs(logits[row, : len(seq)], seq) for row, seq in enumerate(seqs)]


@torch.no_grad()
def packed_log_probs(model, seqs: list[torch.Tensor], restart_positions: bool = True) -> list[torch.Tensor]:
    """verl's remove-padding branch: one packed row, no attention mask, positions restarting per sequence."""
    input_ids = torch.cat(seqs).unsqueeze(0)
    if restart_positions:
        positions = torch.cat([torch.arange(len(s)) for s in seqs]).unsqueeze(0)
    else:  # the control: nothing marks the boundaries, so sequences see each other
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
    logits = model(input_ids=input_ids, attention_mask=None, position_ids=positions, use_cache=False).logits[0]
    out, start = [], 0
    for seq in seqs:
        out.append(next_token_log_probs(logits[start : start + len(seq)], seq))
        start += len(seq)
    return out


@pytest.mark.parametrize("config_cls", [Qwen2Config, Qwen3Config], ids=["qwen2", "qwen3"])
def test_packed_row_matches_padded_batch(config_cls):
    model = tiny_model(config_cls)
    seqs = sequences()
    padded = padded_log_probs(model, seqs)
    packed = packed_log_probs(model, seqs)
    for index, (a, b) in enumerate(zip(padded, packed)):
        assert a.shape == b.shape == (LENGTHS[index] - 1,)
        diff = (a - b).abs().max().item()
        assert diff < TOLERANCE, f"sequence {index}: packed and padded log-probs differ by {diff:.2e}"


@pytest.mark.parametrize("config_cls", [Qwen2Config, Qwen3Config], ids=["qwen2", "qwen3"])
def test_control_without_boundaries_differs(config_cls):
    """The comparison above can fail: without restarting positions the packed row leaks."""
    model = tiny_model(config_cls)
    seqs = sequences()
    padded = padded_log_probs(model, seqs)
    leaked = packed_log_probs(model, seqs, restart_positions=False)
    # The first sequence has nothing before it; every later one attends to its predecessors.
    assert (padded[0] - leaked[0]).abs().max().item() < TOLERANCE
    for index in range(1, len(seqs)):
        effect = (padded[index] - leaked[index]).abs().max().item()
        assert effect > MIN_LEAK_EFFECT, f"sequence {index}: a leak moved log-probs by only {effect:.2e}"
