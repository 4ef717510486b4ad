"""The local tokenizer: exact round trips, Qwen special tokens, the ChatML chat template."""

from __future__ import annotations

import pytest

from verl_dsdr.assets.task import KINDS, ArithProblem, all_problems, prompt_text, solution_forms, tokenizer_corpus
from verl_dsdr.assets.tokenizer import EOS_TOKEN, IM_START_TOKEN, PAD_TOKEN, train_bpe

PROMPT = "Compute 3 + 4 * 2. Put the final answer in \\boxed{}."


def test_special_tokens_have_qwen_names_and_fixed_ids(tokenizer):
    # trained with special tokens first: <|endoftext|>=0, <|im_start|>=1, <|im_end|>=2
    assert tokenizer.convert_tokens_to_ids([PAD_TOKEN, IM_START_TOKEN, EOS_TOKEN]) == [0, 1, 2]
    assert (tokenizer.pad_token, tokenizer.eos_token) == (PAD_TOKEN, EOS_TOKEN)
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 2)
    assert tokenizer.bos_token is None


def test_vocabulary_is_small_and_newline_is_one_token(tokenizer):
    # 3 special + 256 byte symbols + learnt merges, capped at 384
    assert 259 < len(tokenizer) <= 384
    # verl's Qwen continuous-token builder requires "\n" to be a single token
    assert len(tokenizer.encode("\n", add_special_tokens=False)) == 1


def test_round_trip_is_exact_for_every_task_text(tokenizer):
    texts = [t for kind in KINDS for p in all_problems(kind) for t in [prompt_text(p), *solution_forms(p)]]
    texts += ["  two  spaces ", "tab\tand\nnewline", "unicode: é × ∑", "{}}{ \\boxed{\\frac{1}{2}}"]
    bad = [t for t in texts if tokenizer.decode(tokenizer.encode(t, add_special_tokens=False)) != t]
    assert bad == []


def test_decode_skips_special_tokens_on_request(tokenizer):
    ids = tokenizer.encode("The answer is \\boxed{11}.", add_special_tokens=False) + [tokenizer.eos_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "The answer is \\boxed{11}."
    assert tokenizer.decode(ids) == "The answer is \\boxed{11}.<|im_end|>"


def test_chat_template_with_generation_prompt_is_exact(tokenizer):
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROMPT}], add_generation_prompt=True, tokenize=False
    )
    assert text == (
        "<|im_start|>user\nCompute 3 + 4 * 2. Put the final answer in \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_without_generation_prompt_and_with_parts(tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]},
        {"role": "assistant", "content": "Hello"},
    ]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=False, tokenize=False)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi there<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>\n"
    )


def test_chat_template_tokenized_matches_text_encoding(tokenizer):
    messages = [{"role": "user", "content": PROMPT}]
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    ids = list(out["input_ids"]) if hasattr(out, "keys") else list(out)
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert ids == tokenizer.encode(text, add_special_tokens=False)
    # <|im_start|> user \n ... <|im_end|> \n <|im_start|> assistant \n
    assert ids[0] == 1 and ids[-3] == 1 and ids.count(2) == 1


def test_token_budgets_hold_for_every_problem(tokenizer):
    longest_prompt = longest_solution = 0
    for kind in KINDS:
        for p in all_problems(kind):
            out = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt_text(p)}], add_generation_prompt=True, tokenize=True
            )
            longest_prompt = max(longest_prompt, len(out["input_ids"] if hasattr(out, "keys") else out))
            for form in solution_forms(p):
                longest_solution = max(longest_solution, len(tokenizer.encode(form, add_special_tokens=False)) + 1)
    assert longest_prompt <= 64
    assert longest_solution <= 48  # including the eos token


def test_digits_are_single_tokens(tokenizer):
    ids = tokenizer.encode("\\boxed{1234}", add_special_tokens=False)
    pieces = [tokenizer.decode([i]) for i in ids]
    assert [p for p in pieces if any(c.isdigit() for c in p)] == ["1", "2", "3", "4"]


def test_training_is_deterministic():
    corpus = tokenizer_corpus()
    assert train_bpe(corpus, 384).to_str() == train_bpe(corpus, 384).to_str()


def test_too_small_vocabulary_is_rejected():
    with pytest.raises(ValueError, match="at least 259"):
        train_bpe(["abc"], 100)


def test_a_problem_prompt_is_in_the_corpus():
    assert f"user\n{prompt_text(ArithProblem('add', (1, 2)))}" in tokenizer_corpus()
