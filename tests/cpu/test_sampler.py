"""Batched HF sampling: log-probs match a full forward pass, batching matches one-at-a-time."""

import asyncio
import os

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from verl_dsdr.cpu.sampler import SampleRequest, SamplingKey, group_by_key, resolve_eos_ids, sample_batch
from verl_dsdr.utils.batching import MicroBatcher

EOS, PAD = 3, 0


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
    )
    return Qwen2ForCausalLM(config).eval()


def _requests(temperature=1.0, max_tokens=12):
    key = SamplingKey.from_params({"temperature": temperature, "top_p": 1.0, "top_k": -1})
    prompts = [[5, 6, 7], [8, 9, 10, 11, 12, 13], [14]]
    return [SampleRequest(p, key, max_tokens) for p in prompts]


def test_log_probs_equal_actor_recomputation(model):
    # The actor recomputes log softmax(logits / T) of the sampled tokens on prompt + response, unpadded.
    torch.manual_seed(1)
    temperature = 0.7
    requests = _requests(temperature)
    results = sample_batch(model, requests, [EOS], PAD)
    for request, result in zip(requests, results):
        assert 1 <= len(result.token_ids) <= request.max_tokens
        ids = torch.tensor([request.prompt_ids + result.token_ids])
        with torch.no_grad():
            logits = model(ids).logits[0, len(request.prompt_ids) - 1 : -1].float()
        actor = torch.log_softmax(logits / temperature, -1).gather(-1, torch.tensor(result.token_ids)[:, None])[:, 0]
        torch.testing.assert_close(torch.tensor(result.log_probs), actor, atol=1e-4, rtol=1e-4)


def test_stops_at_eos_and_reports_reason(model):
    torch.manual_seed(2)
    results = sample_batch(model, _requests(max_tokens=40), [EOS, 4], PAD)
    for r in results:
        stopped = r.token_ids[-1] in (EOS, 4)
        assert r.stop_reason == ("completed" if stopped else "length")
        assert all(t not in (EOS, 4) for t in r.token_ids[:-1])


def test_greedy_batch_equals_one_at_a_time(model):
    requests = _requests(temperature=0.0)
    batched = sample_batch(model, requests, [EOS], PAD)
    single = [sample_batch(model, [r], [EOS], PAD)[0] for r in requests]
    assert [b.token_ids for b in batched] == [s.token_ids for s in single]


def test_mixed_sampling_params_are_refused_in_one_call(model):
    a, b = _requests(1.0)[0], _requests(0.5)[1]
    with pytest.raises(ValueError, match="identical sampling parameters"):
        sample_batch(model, [a, b], [EOS], PAD)
    assert list(group_by_key([a, b, a]).values()) == [[0, 2], [1]]


def test_eos_resolution():
    assert resolve_eos_ids([5, 6], 1) == [5, 6]
    assert resolve_eos_ids(None, 7) == [7]
    with pytest.raises(ValueError, match="eos"):
        resolve_eos_ids(None, None)


def test_micro_batcher_groups_a_burst_into_one_call():
    calls = []

    def double(items):
        calls.append(list(items))
        return [2 * x for x in items]

    async def main():
        batcher = MicroBatcher(double, max_batch=3, window_s=0.01)
        return await asyncio.gather(*[batcher.submit(i) for i in range(7)])

    assert asyncio.run(main()) == [0, 2, 4, 6, 8, 10, 12]
    assert [len(c) for c in calls] == [3, 3, 1]


def test_micro_batcher_failure_fails_only_that_call():
    def boom(items):
        raise RuntimeError("model crashed")

    async def main():
        batcher = MicroBatcher(boom, window_s=0.0)
        return await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results)


SERVER_PROBE = r"""
import asyncio, json, pickle, sys
from verl_dsdr.cpu.rollout_server import HFRolloutServer, ServerSettings

settings = ServerSettings(model_path=sys.argv[1], attn_implementation="eager", eos_ids=(3,), pad_id=0,
                          max_model_len=40, response_length=6, max_batch=8, num_threads=1)
server = HFRolloutServer(settings, replica_rank=0)
reply = asyncio.run(server.generate([5, 6, 7], {"temperature": 1.0, "top_p": 1.0, "top_k": -1}, "r0"))
print(json.dumps({"verl_loaded": "verl" in sys.modules, "tokens": len(reply.token_ids),
                  "log_probs": len(reply.log_probs), "wire": pickle.dumps(reply).hex()}))
"""


def test_server_samples_without_verl_and_replies_as_verl_token_output(model, tmp_path):
    # The server process imports torch and transformers only; its reply unpickles as verl's TokenOutput.
    import json
    import pickle
    import subprocess
    import sys

    from verl.workers.rollout.replica import TokenOutput

    model.save_pretrained(tmp_path / "model")
    out = subprocess.run(
        [sys.executable, "-c", SERVER_PROBE, str(tmp_path / "model")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["verl_loaded"] is False
    assert 1 <= seen["tokens"] <= 6 and seen["log_probs"] == seen["tokens"]
    reply = pickle.loads(bytes.fromhex(seen["wire"]))
    assert isinstance(reply, TokenOutput)
    assert len(reply.token_ids) == seen["tokens"] and reply.extra_fields == {"global_steps": None}


def test_server_settings_come_from_verls_configs(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from verl_dsdr.assets.build import build_assets
    from verl_dsdr.cpu.rollout import server_settings

    monkeypatch.delenv("VERL_DSDR_CPU_THREADS", raising=False)
    assets = build_assets()
    rollout = OmegaConf.create(
        {
            "max_model_len": None,
            "prompt_length": 64,
            "response_length": 32,
            "max_num_seqs": 16,
            "engine_kwargs": {"vllm": {}, "hf_cpu": {"num_threads": 3}},
        }
    )
    model = OmegaConf.create({"path": assets.model_dir, "override_config": {"attn_implementation": "eager"}})
    settings = server_settings(rollout, model)
    assert settings.max_model_len == 96 and settings.response_length == 32 and settings.max_batch == 16
    assert settings.num_threads == 3
    assert settings.attn_implementation == "eager" and settings.model_path.endswith(os.path.basename(assets.model_dir))
    assert len(settings.eos_ids) >= 1 and isinstance(settings.pad_id, int)
