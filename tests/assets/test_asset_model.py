"""The tiny Qwen2 checkpoint: loads with Auto classes, generates, keeps the tokenizer intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

from verl_dsdr.assets.model import ModelShape, build_model, round_up, tiny_qwen2_config
from verl_dsdr.assets.task import KINDS, all_problems, prompt_text, solution_forms


def test_round_up():
    assert [round_up(n, 64) for n in (1, 64, 65, 315)] == [64, 64, 128, 320]
    with pytest.raises(ValueError):
        round_up(3, 0)


def test_config_shape_and_special_ids(tokenizer):
    config = tiny_qwen2_config(ModelShape(), tokenizer)
    assert config.vocab_size == round_up(len(tokenizer), 64)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (64, 2, 4)
    assert (config.num_key_value_heads, config.intermediate_size, config.max_position_embeddings) == (2, 256, 512)
    assert config.tie_word_embeddings
    assert (config.eos_token_id, config.pad_token_id) == (2, 0)
    with pytest.raises(ValueError, match="divisible"):
        tiny_qwen2_config(ModelShape(hidden_size=30), tokenizer)


def test_init_is_seeded(tokenizer):
    shape = ModelShape(hidden_size=32, intermediate_size=64)
    a, b, c = (build_model(shape, tokenizer, s).model.embed_tokens.weight for s in (3, 3, 4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_saved_model_loads_and_generates(small_assets):
    model = AutoModelForCausalLM.from_pretrained(small_assets.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(small_assets.tokenizer_dir)
    assert isinstance(model, Qwen2ForCausalLM)
    assert model.dtype == torch.float32
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied
    assert model.config.vocab_size % 64 == 0 and model.config.vocab_size >= len(tokenizer)
    assert (model.generation_config.eos_token_id, model.generation_config.pad_token_id) == (2, 0)
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Compute 1 + 2. Put the final answer in \\boxed{}."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[0] == 1 and ids["input_ids"].shape[1] < out.shape[1] <= ids["input_ids"].shape[1] + 5


def test_generation_config_file(small_assets):
    gen = json.loads((Path(small_assets.model_dir) / "generation_config.json").read_text())
    assert (gen["eos_token_id"], gen["pad_token_id"]) == (2, 0)
    assert (Path(small_assets.model_dir) / "model.safetensors").is_file()


def test_loaded_tokenizer_encodes_like_the_built_one(small_assets, tokenizer):
    # With model_type qwen2 next to it, AutoTokenizer builds Qwen2Tokenizer, which re-creates
    # the pre-tokenizer: the ids must still be the ones the warm start was trained on.
    loaded = AutoTokenizer.from_pretrained(small_assets.tokenizer_dir)
    texts = [t for kind in KINDS for p in all_problems(kind)[:20] for t in [prompt_text(p), *solution_forms(p)]]
    assert [loaded.encode(t) for t in texts] == [tokenizer.encode(t) for t in texts]
    assert loaded.chat_template == tokenizer.chat_template
    assert (loaded.eos_token, loaded.pad_token) == ("<|im_end|>", "<|endoftext|>")
