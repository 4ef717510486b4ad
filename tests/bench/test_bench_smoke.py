"""The benchmarks run (``--smoke``), write every figure they promise, and measure the right math.

No timing is asserted anywhere: only that each figure and ratio is present and well-formed, that
the benchmarks' torch re-expressions equal verl's and verl_dsdr's functions, and memory facts that
follow from tensor sizes (the IS term allocates nothing full-vocabulary; the naive entropy does).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_actor_loss as ba  # noqa: E402
import bench_diversity as bd  # noqa: E402

DIVERSITY_RATIOS = (
    "formulas_string_to_verifier",
    "formulas_sympy_cold_to_verifier",
    "formulas_sympy_warm_to_verifier",
    "embedding_truncate_to_verifier",
    "embedding_mean_to_verifier",
    "reward_side_default_total_to_verifier",
    "group_step_to_grpo",
    "group_step_to_grpo_cpu_time",
    "group_step_to_grpo_torch",
    "group_step_to_grpo_verl",
)
DIVERSITY_GOALS = (
    "formulas_string_ms_per_long_rollout",
    "formulas_string_s_per_2048_long_rollouts",
    "group_step_ms",
    "group_step_to_grpo",
)
IMPLIED = ("verifier", "formulas_string", "formulas_sympy_cold", "embedding_truncate", "embedding_mean")
VARIANT_KEYS = (
    "time_median_s",
    "cpu_time_median_s",
    "time_runs_s",
    "peak_memory_bytes",
    "peak_memory_gib",
    "head_time_median_s",
    "head_cpu_time_median_s",
    "time_ratio",
    "cpu_time_ratio",
    "memory_ratio",
    "extra_memory_bytes",
    "head_extra_s",
    "time_ratio_from_head",
    "cpu_time_ratio_from_head",
)


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory) -> dict[str, dict]:
    """Both benchmarks' --smoke JSON; the two processes run side by side."""
    out = tmp_path_factory.mktemp("bench")
    procs = {}
    for name, script in (("diversity", "bench_diversity.py"), ("actor", "bench_actor_loss.py")):
        path = out / f"{name}.json"
        cmd = [sys.executable, str(SCRIPTS / script), "--smoke", "--json", str(path)]
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs[name] = (proc, path)
    results = {}
    for name, (proc, path) in procs.items():
        log, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name} benchmark failed:\n{log[-4000:]}"
        results[name] = json.loads(path.read_text())
    return results


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_diversity_json_has_every_figure(smoke_results):
    r = smoke_results["diversity"]
    assert r["benchmark"] == "diversity" and r["smoke"] is True
    assert {"environment", "config", "command"} <= set(r)
    rs = r["reward_side"]
    assert _positive(rs["verifier"]["ms_per_rollout"])
    for key in (
        "ms_per_rollout_mix",
        "ms_per_rollout_long",
        "s_per_2048_long_rollouts",
        "ms_per_kb",
        "formulas_per_rollout_long",
        "cpu_ms_per_rollout_long",
        "cpu_s_per_2048_long_rollouts",
    ):
        assert _positive(rs["formulas_string"][key]), key
    for key in ("cold_ms_per_rollout", "warm_ms_per_rollout", "bound_s_per_rollout"):
        assert _positive(rs["formulas_sympy"][key]), key
    for mode in ("truncate", "mean"):
        assert _positive(rs["embedding"][mode]["ms_per_rollout"]), mode
        assert rs["embedding"][mode]["dim"] == 384
    for stage in IMPLIED:
        assert set(rs["implied_step_seconds"][stage]) == {"workers_1", "workers_8", "workers_32"}, stage
    tr = r["trainer_side"]
    for key in (
        "dsdr_group_step_ms",
        "gather_inputs_ms",
        "dsdr_stats_ms",
        "semantic_diversity_ms",
        "formula_uniqueness_ms",
        "dsdr_metrics_ms",
        "grpo_torch_ms",
    ):
        assert _positive(tr[key]), key
    assert set(r["ratios"]) == set(DIVERSITY_RATIOS)
    for key in DIVERSITY_RATIOS:
        if key == "group_step_to_grpo_verl" and tr["grpo_verl_ms"] is None:
            continue
        assert _positive(r["ratios"][key]), key
    assert set(r["goals"]) == set(DIVERSITY_GOALS)
    for goal in r["goals"].values():
        assert {"goal", "measured", "met", "measured_cpu_time", "met_cpu_time"} <= set(goal)


def test_diversity_grpo_baseline_matches_verl(smoke_results):
    pytest.importorskip("verl")
    assert smoke_results["diversity"]["trainer_side"]["grpo_torch_matches_verl"] is True


def test_actor_json_has_every_variant_and_ratio(smoke_results):
    r = smoke_results["actor"]
    assert r["benchmark"] == "actor_loss" and r["smoke"] is True
    assert set(r["variants"]) == set(ba.VARIANTS)
    for name, v in r["variants"].items():
        assert set(VARIANT_KEYS) <= set(v), name
        assert _positive(v["time_ratio"]) and _positive(v["cpu_time_ratio"]) and _positive(v["memory_ratio"]), name
    grpo = r["variants"]["grpo"]
    assert grpo["time_ratio"] == 1.0 and grpo["cpu_time_ratio"] == 1.0 and grpo["memory_ratio"] == 1.0
    expected = {f"{n}_{k}" for n in ba.VARIANTS for k in ("time", "cpu_time", "memory")}
    expected |= {f"dsdr_full_fused_vs_grpo_fused_{k}" for k in ("time", "cpu_time", "memory")}
    assert set(r["ratios"]) == expected
    is_term = r["variants"]["dsdr_is"]["is_term"]
    assert {"grpo_loss_s", "dsdr_is_loss_s", "is_term_extra_s"} <= set(is_term)
    assert _positive(is_term["time_ratio_from_loss"])
    assert set(r["goals"]) == {"dsdr_is", "dsdr_full_chunked", "dsdr_full_fused"}
    for goal in r["goals"].values():
        assert {
            "time_ratio",
            "cpu_time_ratio",
            "memory_ratio",
            "time_met",
            "cpu_time_met",
            "memory_met",
            "time_ratio_from_head",
        } <= set(goal)
    assert r["memory_method"].startswith("torch.profiler")


def test_actor_memory_follows_tensor_sizes(smoke_results):
    v = smoke_results["actor"]["variants"]
    # The IS term adds a few [B, L] fp32 tensors (2 x 63 x 4 bytes each): under 1% of the step.
    assert abs(v["dsdr_is"]["memory_ratio"] - 1.0) < 0.01
    # The naive entropy keeps softmax(logits) and p * logits, each [B*L, V] fp32.
    assert v["dsdr_full_naive"]["extra_memory_bytes"] >= 2 * 2 * 63 * ba.SHAPES["smoke"].vocab * 4
    assert v["dsdr_full_chunked"]["memory_ratio"] < v["dsdr_full_naive"]["memory_ratio"]


# --- the re-expressed math equals the functions it stands for -----------------------------------


def test_policy_and_local_terms_equal_verl_and_verl_dsdr():
    pytest.importorskip("verl")
    from omegaconf import OmegaConf
    from verl.trainer.ppo.core_algos import agg_loss, compute_policy_loss_vanilla

    from verl_dsdr.algorithms.dsdr import local_entropy_tokens

    gen = torch.Generator().manual_seed(0)
    log_prob = -torch.rand(3, 6, generator=gen) * 3
    old = log_prob + 0.3 * torch.randn(3, 6, generator=gen)
    adv = torch.tensor([1.0, -1.0, 0.5])[:, None].expand(3, 6)
    mask = torch.arange(6)[None, :] < torch.tensor([6, 4, 2])[:, None]
    s = ba.LossSettings()
    config = OmegaConf.create(
        {
            "clip_ratio": 0.2,
            "clip_ratio_low": s.clip_low,
            "clip_ratio_high": s.clip_high,
            "clip_ratio_c": s.clip_ratio_c,
            "global_batch_info": {},
        }
    )
    ref, _ = compute_policy_loss_vanilla(old, log_prob, adv, mask, "token-mean", config)
    mine, _ = ba.ppo_clip_loss(log_prob, old, adv, mask, s)
    assert torch.allclose(mine, ref, atol=1e-7)

    coef = torch.tensor([2.0, 0.0, 1.0])
    masked = [torch.where(mask, t, torch.zeros_like(t)) for t in (log_prob, old)]
    tokens_ref = local_entropy_tokens(*masked, detach_ratio=False)
    tokens = ba.is_entropy_tokens(log_prob, old, mask)
    assert torch.equal(tokens, tokens_ref)
    local_ref = agg_loss(coef[:, None] * tokens_ref, mask, "seq-mean-token-mean")
    assert torch.allclose(ba.local_term(tokens, coef, mask), local_ref, atol=1e-7)


def test_entropy_forms_agree_in_value_and_gradient():
    gen = torch.Generator().manual_seed(1)
    logits = (3 * torch.randn(2, 5, 40, generator=gen, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(0, 40, (2, 5), generator=gen)
    w_lp = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    w_h = torch.randn(2, 5, generator=gen, dtype=torch.float64)

    def grad_of(fn):
        logits.grad = None
        fn().backward()
        return logits.grad.clone()

    flat = lambda: logits.reshape(-1, 40)  # noqa: E731
    ref_h = ba.entropy_rows(flat()).view(2, 5)
    ref = grad_of(lambda: (ba.token_log_probs(logits, labels) * w_lp + ba.entropy_rows(flat()).view(2, 5) * w_h).sum())
    lp, h = ba.fused_log_probs_entropy(logits, labels, chunk_rows=3, with_entropy=True)
    assert torch.allclose(h, ref_h, atol=1e-12)
    assert torch.allclose(lp, ba.token_log_probs(logits, labels), atol=1e-12)
    lp_only = grad_of(lambda: (ba.fused_log_probs_entropy(logits, labels, 4, False)[0] * w_lp).sum())
    assert torch.allclose(lp_only, grad_of(lambda: (ba.token_log_probs(logits, labels) * w_lp).sum()), atol=1e-12)

    def fused_loss() -> torch.Tensor:
        log_prob, entropy = ba.fused_log_probs_entropy(logits, labels, 3, True)
        return (log_prob * w_lp + entropy * w_h).sum()

    fused = grad_of(fused_loss)
    assert torch.allclose(fused, ref, atol=1e-12)
    chunked = grad_of(
        lambda: (
            ba.token_log_probs(logits, labels) * w_lp + ba.entropy_chunk_checkpointed(flat(), 3).view(2, 5) * w_h
        ).sum()
    )
    assert torch.allclose(chunked, ref, atol=1e-12)
    # A uniform row has entropy log V: log 40 = 3.6888794541
    uniform = torch.zeros(1, 40, dtype=torch.float64)
    assert ba.entropy_rows(uniform).item() == pytest.approx(3.6888794541, abs=1e-9)


def test_synthetic_rollouts_are_seeded_and_shaped():
    import bench_common as bc

    a = bc.synthetic_rollouts(2, 3, seed=5, min_tokens=200, max_tokens=400)
    b = bc.synthetic_rollouts(2, 3, seed=5, min_tokens=200, max_tokens=400)
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.uid for r in a] == ["prompt-5-0"] * 3 + ["prompt-5-1"] * 3
    # targets in [200, 400] tokens; the loop stops within 120 characters (30 tokens) of the target
    # and one step plus the answer line overshoots it by at most ~70 tokens
    assert all(170 <= r.tokens <= 470 and "\\boxed{" in r.text for r in a)
    long = bc.long_rollouts(4, seed=1, tokens=3000)
    assert len(long) == 4 and all(2960 <= r.tokens <= 3070 for r in long)
    with pytest.raises(ValueError, match="min_tokens"):
        bc.synthetic_rollouts(1, 1, min_tokens=10, max_tokens=5)


def test_synthetic_extras_feed_the_group_step():
    from verl_dsdr.methods import method
    from verl_dsdr.methods.dsdr import dsdr_stats
    from verl_dsdr.methods.wire import EMBEDDING, FORMULAS
    from verl_dsdr.methods.wire import decode_batch as gather_inputs

    extras, uids, padding = bd.synthetic_extras(groups=3, group_size=4, formulas=6, seed=0)
    inputs = gather_inputs(extras, uids, padding, method("dsdr").reward_fields(bd.dsdr_settings()))
    assert inputs.fields[EMBEDDING].shape == (12, bd.EMBED_DIM)
    assert inputs.fields[FORMULAS].sizes.tolist() == [6] * 12
    stats = dsdr_stats(inputs, bd.dsdr_settings())
    assert stats.coef.shape == (12,)
    assert np.isfinite(stats.diversity.numpy()).all()


def test_library_choice_bench_compares_the_same_spans():
    """scripts/bench_library_choices.py latex: both scanners read the same spans where they agree by design."""
    import bench_library_choices as lc

    text = r"We have $a+b$ and \[c = d\] and \begin{cases} x & 1 \\ y & 2 \end{cases}, so \boxed{3}."
    assert lc._ours_spans(text) == lc._pylatexenc_spans(text) == ["a+b", "c = d", r"x & 1 \\ y & 2"]
    assert lc._ours_spans("$x$ \\( y") == ["x"]  # an unclosed span is dropped
