"""The HF generation module on a tiny random Qwen2 and a tiny tokenizer built here (CPU, seconds)."""

import importlib.util
import json

import pytest

from verl_dsdr import generate
from verl_dsdr.data.schema import build_record, write_parquet

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_checkpoint(path):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["What is 1 + 2? Please reason step by step.", "user assistant boxed answer"], trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHAT_TEMPLATE
    )
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-qwen")


@pytest.fixture
def data_file(tmp_path):
    problems = ["What is 1 + 2?", "What is 2 + 2? Please reason step by step, with a longer prompt.", "1 + 1?"]
    records = [
        build_record(problem=p, answer=str(i + 3), data_source="aime24", style="boxed", index=i, split="test")
        for i, p in enumerate(problems)
    ]
    return write_parquet(records, tmp_path / "aime24.parquet")


def gen(tiny_model, data_file, out, *extra):
    argv = [
        "--model",
        str(tiny_model),
        "--data",
        str(data_file),
        "--out",
        str(out),
        "--max-tokens",
        "6",
        "--device",
        "cpu",
        "--no-progress",
        *extra,
    ]
    assert generate.main(argv) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_sampled_rows_schema_order_and_seed(tiny_model, data_file, tmp_path):
    rows = gen(
        tiny_model,
        data_file,
        tmp_path / "a.jsonl",
        "--n",
        "2",
        "--temperature",
        "0.7",
        "--top-p",
        "0.9",
        "--batch-size",
        "4",
        "--seed",
        "3",
    )
    assert len(rows) == 6  # 3 problems x 2 samples
    assert [r["problem_id"] for r in rows] == [0, 0, 1, 1, 2, 2]
    assert {r["method"] for r in rows} == {"tiny-qwen"}  # the model folder's name
    assert {r["benchmark"] for r in rows} == {"aime24"}
    assert [r["ground_truth"] for r in rows[::2]] == ["3", "4", "5"]
    keys = {"method", "benchmark", "data_source", "problem_id", "index", "ground_truth", "response"}
    keys |= {"sample_index", "prompt_hash", "sampling"}
    assert all(set(r) == keys for r in rows)
    assert {r["data_source"] for r in rows} == {"aime24"} and [r["index"] for r in rows] == [0, 0, 1, 1, 2, 2]
    assert [r["sample_index"] for r in rows] == [0, 1, 0, 1, 0, 1]
    assert all(isinstance(r["response"], str) for r in rows)
    again = gen(
        tiny_model,
        data_file,
        tmp_path / "b.jsonl",
        "--n",
        "2",
        "--temperature",
        "0.7",
        "--top-p",
        "0.9",
        "--batch-size",
        "4",
        "--seed",
        "3",
    )
    assert again == rows


def test_rows_keep_the_datas_own_id_and_prompt_hash(tiny_model, tmp_path):
    """Today problem_id was the row position ("0"), not the prepared data's id, and no prompt was recorded."""
    import hashlib

    from transformers import AutoTokenizer

    records = [
        build_record(problem=p, answer=a, data_source="aime24", style="boxed", index=i, split="test", original_id=o)
        for i, (p, a, o) in enumerate([("What is 1 + 2?", "3", "2024-I-1"), ("1 + 1?", "2", "2024-II-4")])
    ]
    data = write_parquet(records, tmp_path / "aime24.parquet")
    rows = gen(tiny_model, data, tmp_path / "s.jsonl", "--n", "1", "--temperature", "0", "--batch-size", "2")
    assert [(r["problem_id"], r["index"], r["data_source"]) for r in rows] == [
        ("2024-I-1", 0, "aime24"),
        ("2024-II-4", 1, "aime24"),
    ]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    text = tokenizer.apply_chat_template(records[0]["prompt"], add_generation_prompt=True, tokenize=False)
    assert rows[0]["prompt_hash"] == hashlib.sha256(text.encode()).hexdigest()
    sampling = rows[0]["sampling"]
    assert sampling["data"] == str(data)
    assert sampling["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert (sampling["batch_size"], sampling["device"], sampling["dtype"]) == (2, "cpu", "float32")
    from verl_dsdr.eval.provenance import weights_sha256

    assert sampling["model_sha256"] == weights_sha256(tiny_model) and len(sampling["model_sha256"]) == 64


def test_unknown_hub_id_offline_fails_at_once(tiny_model, data_file, tmp_path, capsys, monkeypatch):
    """Today an id missing from the cache retried the hub for 25-50 s before failing."""
    import time

    monkeypatch.setattr(generate, "_hub_reachable", lambda timeout=3.0: False)
    start = time.monotonic()
    code = generate.main(["--model", "nobody/no-such-model", "--data", str(data_file), "--out", str(tmp_path / "x")])
    assert code == 2 and time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert "not in the local Hugging Face cache" in err and "huggingface-cli download nobody/no-such-model" in err


def test_greedy_batched_equals_one_by_one(tiny_model, data_file, tmp_path):
    """Left padding is right iff padded batches decode exactly like unpadded single prompts."""
    batched = gen(
        tiny_model,
        data_file,
        tmp_path / "g3.jsonl",
        "--n",
        "2",
        "--temperature",
        "0",
        "--batch-size",
        "6",
        "--method",
        "greedy",
    )
    single = gen(
        tiny_model,
        data_file,
        tmp_path / "g1.jsonl",
        "--n",
        "1",
        "--temperature",
        "0",
        "--batch-size",
        "1",
        "--method",
        "greedy",
    )
    assert [r["response"] for r in batched[::2]] == [r["response"] for r in single]
    assert [r["response"] for r in batched[::2]] == [r["response"] for r in batched[1::2]]  # greedy: n copies
    assert any(r["response"] for r in single)


def test_protocol_presets_and_overrides():
    parser = generate.build_parser()
    base = ["--model", "m", "--data", "d.parquet", "--out", "o.jsonl"]
    s = generate.settings_from_args(parser.parse_args([*base, "--protocol", "pass1"]))
    assert (s.n, s.temperature, s.top_p) == (1, 0.1, 1.0)
    s = generate.settings_from_args(parser.parse_args([*base, "--protocol", "avg16"]))
    assert (s.n, s.temperature, s.top_p) == (16, 0.7, 0.9)
    s = generate.settings_from_args(parser.parse_args([*base, "--protocol", "passk", "--n", "8"]))
    assert (s.n, s.temperature, s.top_p) == (8, 0.7, 0.9)
    with pytest.raises(generate.GenerationError, match="--top-p"):
        generate.settings_from_args(parser.parse_args([*base, "--top-p", "0"]))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed: the error path is moot")
def test_vllm_missing_is_a_clear_error(tiny_model, data_file, tmp_path, capsys):
    argv = [
        "--model",
        str(tiny_model),
        "--data",
        str(data_file),
        "--out",
        str(tmp_path / "v.jsonl"),
        "--backend",
        "vllm",
    ]
    assert generate.main(argv) == 2
    assert "needs the vllm package" in capsys.readouterr().err


def test_missing_chat_template_and_bad_data(tiny_model, tmp_path, capsys):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = None
    problem = generate.Problem("b", 0, "1", [{"role": "user", "content": "hi"}])
    with pytest.raises(generate.GenerationError, match="--raw-prompt"):
        generate.render_prompts(tokenizer, [problem])
    assert generate.render_prompts(tokenizer, [problem], raw_prompt=True) == [tokenizer("hi")["input_ids"]]
    bad = write_parquet([{"prompt": [{"role": "user", "content": "x"}], "data_source": "b"}], tmp_path / "bad.parquet")
    assert generate.main(["--model", str(tiny_model), "--data", str(bad), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "row 0: missing 'reward_model'" in capsys.readouterr().err
