"""A tiny random-initialised Qwen2 causal LM, saved the way a hub checkpoint is laid out.

verl loads it with `AutoModelForCausalLM.from_pretrained(path)` like any Qwen2 model, so the
real training path runs unchanged; only the size differs (hundreds of thousands of
parameters, fast enough for 2 CPU cores).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GenerationConfig, PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM

from .settings import ModelShape
from .tokenizer import EOS_TOKEN, PAD_TOKEN, token_id


def round_up(n: int, multiple: int) -> int:
    """Smallest multiple of `multiple` that is >= n."""
    if multiple <= 0:
        raise ValueError(f"multiple must be positive, got {multiple}")
    return -(-n // multiple) * multiple


def tiny_qwen2_config(shape: ModelShape, tokenizer: PreTrainedTokenizerBase) -> Qwen2Config:
    """Qwen2 config for `shape`, vocabulary = tokenizer size rounded up, tied embeddings.

    Special-token ids follow Qwen2.5: bos = pad = `<|endoftext|>`, eos = `<|im_end|>`.
    """
    if shape.hidden_size % shape.num_attention_heads:
        raise ValueError(
            f"hidden_size {shape.hidden_size} must be divisible by num_attention_heads {shape.num_attention_heads}"
        )
    if shape.num_attention_heads % shape.num_key_value_heads:
        raise ValueError(
            f"num_attention_heads {shape.num_attention_heads} must be a multiple of "
            f"num_key_value_heads {shape.num_key_value_heads}"
        )
    pad_id = token_id(tokenizer, PAD_TOKEN)
    eos_id = token_id(tokenizer, EOS_TOKEN)
    return Qwen2Config(
        vocab_size=round_up(len(tokenizer), shape.vocab_multiple),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=True,
        use_sliding_window=False,
        bos_token_id=pad_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )


def build_model(shape: ModelShape, tokenizer: PreTrainedTokenizerBase, seed: int) -> Qwen2ForCausalLM:
    """A random-initialised float32 Qwen2ForCausalLM; the same `seed` gives the same weights."""
    config = tiny_qwen2_config(shape, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    return model.float()


def generation_config(tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    """Generation defaults as in a Qwen chat checkpoint: stop at `<|im_end|>`, pad with `<|endoftext|>`."""
    pad_id = token_id(tokenizer, PAD_TOKEN)
    return GenerationConfig(
        bos_token_id=pad_id,
        eos_token_id=token_id(tokenizer, EOS_TOKEN),
        pad_token_id=pad_id,
    )


def save_checkpoint(model: Qwen2ForCausalLM, tokenizer: PreTrainedTokenizerBase, path: str | Path) -> Path:
    """Save model (safetensors, float32), tokenizer and generation config into one folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.generation_config = generation_config(tokenizer)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path
