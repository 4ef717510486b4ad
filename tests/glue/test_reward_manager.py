"""The `dsdr` reward-loop manager on single trajectories, as verl's reward loop calls it."""

import asyncio

import numpy as np
import pytest
import torch
from verl import DataProto

from verl_dsdr.assets.tokenizer import build_tokenizer
from verl_dsdr.glue.reward_manager import DSDRRewardManager
from verl_dsdr.methods.wire import VALIDATE, formula_hashes

CORPUS = [
    "Compute 3 + 4 * 2. We have $4 \\cdot 2 = 8$ and $3 + 8 = 11$. So \\boxed{11}",
    "The answer is \\boxed{12} because $2 + 10 = 12$.",
]


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(CORPUS * 20, vocab_size=300)


@pytest.fixture(scope="module")
def manager(compose_config, tokenizer):
    config = compose_config("algorithm.adv_estimator=dsdr", "data.train_batch_size=2", "actor_rollout_ref.rollout.n=2")
    DSDRRewardManager._class_initialized = False
    return DSDRRewardManager(config, tokenizer, compute_score=None)


def _row(tokenizer, response: str, ground_truth: str, **non_tensor) -> DataProto:
    prompt = torch.tensor(tokenizer.encode("Compute 3 + 4 * 2."))
    resp = torch.tensor(tokenizer.encode(response) or [tokenizer.pad_token_id], dtype=torch.long)
    valid = len(tokenizer.encode(response))
    attention = torch.cat([torch.ones(len(prompt)), torch.ones(len(resp))]).long()
    attention[len(prompt) + valid :] = 0
    fields = {
        "data_source": "verl_dsdr/arith",
        "reward_model": {"ground_truth": ground_truth},
        "extra_info": {"index": 0, "split": "train"},
        **non_tensor,
    }
    return DataProto.from_dict(
        tensors={"prompts": prompt[None], "responses": resp[None], "attention_mask": attention[None]},
        non_tensors={k: np.array([v], dtype=object) for k, v in fields.items()},
    )


def test_correct_response_gets_reward_formulas_and_unit_embedding(manager, tokenizer):
    out = asyncio.run(manager.run_single(_row(tokenizer, CORPUS[0], "11")))
    info = out["reward_extra_info"]
    assert out["reward_score"] == 1.0 and info["dsdr_correct"] == 1.0
    # The formula set travels as the sorted 64-bit digests of its keys; the embedding as float32.
    keys = info["dsdr_formulas"]
    assert keys.dtype == np.int64 and list(keys) == sorted(keys)
    assert set(formula_hashes(["3+8=11", "4\\cdot2=8"])) <= set(keys.tolist())
    emb = info["dsdr_embedding"]
    assert emb.dtype == np.float32 and emb.shape == (384,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-4)


def test_wrong_response_gets_zero(manager, tokenizer):
    out = asyncio.run(manager.run_single(_row(tokenizer, CORPUS[1], "11")))
    assert out["reward_score"] == 0.0 and out["reward_extra_info"]["dsdr_correct"] == 0.0


def test_validation_skips_training_only_work(manager, tokenizer):
    out = asyncio.run(manager.run_single(_row(tokenizer, CORPUS[0], "11", **{VALIDATE: True})))
    info = out["reward_extra_info"]
    assert out["reward_score"] == 1.0
    assert "dsdr_embedding" not in info and "dsdr_formulas" not in info


def test_empty_and_huge_responses_keep_their_row(manager, tokenizer):
    empty = asyncio.run(manager.run_single(_row(tokenizer, "", "11")))
    assert empty["reward_score"] == 0.0 and empty["reward_extra_info"]["dsdr_formulas"].size == 0
    huge = "$" + "{" * 5000 + "\\boxed{" + "1" * 200_000
    out = asyncio.run(manager.run_single(_row(tokenizer, huge, "11")))
    assert out["reward_score"] == 0.0 and len(out["reward_extra_info"]["dsdr_embedding"]) == 384


def test_concurrent_trajectories_share_the_batched_encoder_and_keep_their_own_embedding(
    manager, tokenizer, monkeypatch
):
    """verl's reward loop runs many run_single calls at once in one worker: their embeddings go through
    one shared MicroBatcher (batched encoder calls) and each trajectory gets its own vector back."""
    texts = [f"Step {i}: we get $ {i} + {i} = {2 * i} $ so \\boxed{{{2 * i}}}" for i in range(1, 7)]
    batcher = next(f for f in manager.fields if f.key == "dsdr_embedding").batcher
    sizes = []
    encode = batcher.fn

    def recording(items):
        sizes.append(len(items))
        return encode(items)

    monkeypatch.setattr(batcher, "fn", recording)
    monkeypatch.setattr(batcher, "window_s", 1.0)  # all six arrive within one window, even on a loaded machine

    async def score_all():
        return await asyncio.gather(*(manager.run_single(_row(tokenizer, t, "11")) for t in texts))

    outs = asyncio.run(score_all())
    assert sum(sizes) == 6 and max(sizes) > 1, sizes  # batched, every trajectory encoded once
    decoded = [tokenizer.decode(tokenizer.encode(t), skip_special_tokens=True) for t in texts]
    alone = encode(decoded)
    got = np.asarray([o["reward_extra_info"]["dsdr_embedding"] for o in outs])
    np.testing.assert_allclose(got, np.asarray(alone), atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in got}) == 6  # six different responses, six different vectors


def test_init_class_sizes_the_scoring_pool_from_the_reward_kwargs(compose_config, tokenizer, monkeypatch):
    from verl_dsdr.scoring import bounded
    from verl_dsdr.scoring.pool_config import ScoringPool

    monkeypatch.delenv("VERL_DSDR_SCORING_WORKERS", raising=False)
    monkeypatch.setattr(bounded, "_shared", None)
    monkeypatch.setattr(bounded, "_configured", None)
    sizes = []
    original = bounded.BoundedRunner.__init__

    def record(self, *args, **kwargs):
        sizes.append((kwargs.get("workers"), kwargs.get("memory_limit_mb")))
        original(self, *args, **kwargs)

    monkeypatch.setattr(bounded.BoundedRunner, "__init__", record)
    config = compose_config(
        "algorithm.adv_estimator=grpo",
        "+reward.custom_reward_function.reward_kwargs.scoring_workers=1",
        "+reward.custom_reward_function.reward_kwargs.scoring_memory_mb=0",
    )
    monkeypatch.setattr(DSDRRewardManager, "_class_initialized", False)
    try:
        DSDRRewardManager.init_class(config, tokenizer)
        assert bounded._configured == ScoringPool(1, 0)
        assert bounded._shared is not None  # the warm-up's answer needed the verifier: its pool started
        bounded.scoring_runner()  # the same pool for the first real call
        assert sizes == [(1, None)]  # the configured pool, and no pool of another size before it
    finally:
        if bounded._shared is not None:
            bounded._shared.close()
