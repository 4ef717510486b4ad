"""What DSDR's local term costs in the actor step, beside the plain GRPO loss in the same run.

Needs only torch, transformers and the verl_dsdr package's verl-free modules (no verl, no ray): a random-initialised Qwen3 model of a given
shape (default Qwen3-1.7B's: 28 layers, hidden 2048, vocabulary 151,936, tied embeddings), bf16,
sdpa attention, gradient checkpointing; one micro-batch of B x T tokens; logits upcast to fp32;
forward + backward; median of N interleaved rounds after warm-up; peak memory of one more step.
On CPU, glibc is told to keep freed memory in the process (``bench_common.cache_cpu_allocations``),
as CUDA's caching allocator does on a GPU; otherwise page faults dominate a CPU step.

Variants (each timed against (a) in the same run):
  a  grpo            PPO-clip on the sampled tokens' log-probs (verl's vanilla policy loss,
                     token-mean), log-probs as verl computes them without flash-attn
                     (gather minus a row-by-row logsumexp).
  b  dsdr_is         a + DSDR's local term, ``is`` estimator: ``-rho * logp`` from the same
                     log-probs, times the per-sample coefficient c_i, seq-mean-token-mean.
  c  dsdr_full_naive a + the local term on the exact entropy of the full softmax, materialised
                     over [B*T, V] (verl's ``entropy_from_logits`` with calculate_entropy=True).
  d  dsdr_full_chunked a + the same exact entropy computed in row chunks, each chunk under
                     ``torch.utils.checkpoint`` so no full-vocabulary activation is kept for backward.
  e  dsdr_full_verl_ckpt a + verl's entropy_checkpointing around its chunked entropy
                     (``checkpoint(entropy_from_logits_with_chunking, logits)``): the peer for d.
  f  grpo_fused      a with log-probs from one fused autograd function (chunked forward, one
                     gradient written chunk by chunk: what flash-attn's cross-entropy does).
  g  dsdr_full_fused f + the exact entropy from the same fused function (one gradient for both):
                     what the ``full`` estimator needs to stay within its memory goal; ratios are
                     given against a and against f.

The loss arithmetic is the project's torch-only forms of verl 0.9.1's policy loss and loss
aggregation (``verl_dsdr.algorithms.baselines``, tested equal to verl's) and DSDR's local term
(``local_entropy_tokens``, aggregated like ``verl_dsdr/methods/dsdr.py``'s loss); this script
imports neither verl nor ray.

  GPU:  python scripts/bench_actor_loss.py --device cuda --json bench/actor_h100.json
  CPU:  python scripts/bench_actor_loss.py --cpu-small --json bench/actor_cpu_small.json
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
if str(_HERE.parent) not in sys.path:
    sys.path.insert(1, str(_HERE.parent))
import bench_common as bc  # noqa: E402

from verl_dsdr.algorithms import baselines  # noqa: E402  (torch only: no verl, no ray)
from verl_dsdr.algorithms.dsdr import local_entropy_tokens  # noqa: E402
from verl_dsdr.methods.dsdr import LOCAL_TERM_AGG  # noqa: E402


@dataclass(frozen=True)
class Shape:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int


SHAPES = {
    "qwen3-1.7b": Shape(28, 2048, 6144, 16, 8, 128, 151936),
    "cpu-small": Shape(2, 256, 768, 4, 2, 64, 32768),
    "smoke": Shape(1, 64, 128, 2, 1, 32, 2048),
}
VARIANTS = (
    "grpo",
    "dsdr_is",
    "dsdr_full_naive",
    "dsdr_full_chunked",
    "dsdr_full_verl_ckpt",
    "grpo_fused",
    "dsdr_full_fused",
)
GOALS = {
    "dsdr_is": {"time": 1.01, "memory": 1.00},
    "dsdr_full_chunked": {"time": 1.05, "memory": 1.10},
}


@dataclass(frozen=True)
class LossSettings:
    clip_low: float = 0.2
    clip_high: float = 0.28
    clip_ratio_c: float = 3.0
    lambda_l: float = 0.001
    chunk_rows: int = 2048  # verl's entropy_from_logits_chunk_size default


# --- loss arithmetic (torch re-expression of verl's and verl_dsdr's) -------------------------


def token_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log pi(label) per position, as verl's ``logprobs_from_logits_v2`` for fp32 logits."""
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    lse = torch.stack([torch.logsumexp(row, dim=-1) for row in logits])
    return picked - lse


def ppo_clip_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, s: LossSettings
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """verl's vanilla (dual-clip PPO) policy loss, token-mean: the project's torch-only form."""
    return baselines.ppo_clip_loss(
        log_prob, old_log_prob, advantages, mask, s.clip_low, s.clip_high, s.clip_ratio_c, "token-mean"
    )


def is_entropy_tokens(log_prob: torch.Tensor, old_log_prob: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The DSDR loss's ``is`` integrand: masked log-probs, then ``local_entropy_tokens`` (``-rho * logp``)."""
    lp = torch.where(mask, log_prob, torch.zeros_like(log_prob))
    old = torch.where(mask, old_log_prob, torch.zeros_like(log_prob))
    return local_entropy_tokens(lp, old, detach_ratio=False)


def entropy_rows(logits: torch.Tensor) -> torch.Tensor:
    """Exact entropy of softmax(logits) per row (verl's ``entropy_from_logits``)."""
    pd = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - torch.sum(pd * logits, dim=-1)


def entropy_chunked(logits2d: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """verl's ``entropy_from_logits_with_chunking``: row chunks in forward, autograd keeps each chunk."""
    out = torch.zeros(logits2d.shape[0], device=logits2d.device)
    for i in range(0, logits2d.shape[0], chunk_rows):
        out[i : i + chunk_rows] = entropy_rows(logits2d[i : i + chunk_rows].float())
    return out


def entropy_chunk_checkpointed(logits2d: torch.Tensor, chunk_rows: int) -> torch.Tensor:
    """Exact entropy in row chunks, each under ``checkpoint``: backward recomputes one chunk at a time."""
    parts = [
        checkpoint(entropy_rows, logits2d[i : i + chunk_rows], use_reentrant=False)
        for i in range(0, logits2d.shape[0], chunk_rows)
    ]
    return torch.cat(parts)


class FusedLogProbEntropy(torch.autograd.Function):
    """log pi(label) and (optionally) the exact entropy per row of fp32 logits ``[N, V]``.

    Forward and backward walk the rows in chunks, so the only full-size tensor it allocates is the
    one gradient of the logits; both outputs' gradients are written into it chunk by chunk:
    ``d logp / dx = onehot(label) - p`` and ``d H / dx = -p * (log p + H)``.
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, labels: torch.Tensor, chunk_rows: int, with_entropy: bool):
        rows = logits.shape[0]
        log_prob = torch.empty(rows, device=logits.device, dtype=logits.dtype)
        lse = torch.empty_like(log_prob)
        entropy = torch.empty_like(log_prob) if with_entropy else None
        for i in range(0, rows, chunk_rows):
            rows_i = slice(i, i + chunk_rows)
            x = logits[rows_i]
            lse[rows_i] = torch.logsumexp(x, dim=-1)
            log_prob[rows_i] = x.gather(-1, labels[rows_i, None]).squeeze(-1) - lse[rows_i]
            if with_entropy:
                p = torch.exp(x - lse[rows_i, None])
                entropy[rows_i] = lse[rows_i] - (p * x).sum(dim=-1)
                del p
        ctx.chunk_rows = chunk_rows
        ctx.save_for_backward(logits, labels, lse, entropy if with_entropy else lse)
        ctx.with_entropy = with_entropy
        return log_prob, (entropy if with_entropy else torch.zeros_like(log_prob))

    @staticmethod
    def backward(ctx: Any, g_logp: torch.Tensor | None, g_ent: torch.Tensor | None):
        logits, labels, lse, entropy = ctx.saved_tensors
        grad = torch.empty_like(logits)
        c = ctx.chunk_rows
        for i in range(0, logits.shape[0], c):
            x = logits[i : i + c]
            logp_all = x - lse[i : i + c, None]
            p = torch.exp(logp_all)
            gx = torch.zeros_like(x)
            if g_logp is not None:
                gl = g_logp[i : i + c, None]
                gx.sub_(p * gl).scatter_add_(-1, labels[i : i + c, None], gl)
            if ctx.with_entropy and g_ent is not None:
                gx.sub_(p * (logp_all + entropy[i : i + c, None]) * g_ent[i : i + c, None])
            grad[i : i + c] = gx
            del x, logp_all, p, gx
        return grad, None, None, None


def fused_log_probs_entropy(
    logits: torch.Tensor, labels: torch.Tensor, chunk_rows: int, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, L, V]`` fp32 logits -> (log-probs ``[B, L]``, entropy ``[B, L]``; zeros without entropy)."""
    flat = logits.reshape(-1, logits.shape[-1])
    log_prob, entropy = FusedLogProbEntropy.apply(flat, labels.reshape(-1), chunk_rows, with_entropy)
    return log_prob.view(labels.shape), entropy.view(labels.shape)


def local_term(tokens: torch.Tensor, coef: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The DSDR loss's local term: ``coef * tokens`` aggregated per sequence (Eq. 15's mean), then over sequences."""
    return baselines.aggregate(coef.unsqueeze(-1) * tokens, mask, LOCAL_TERM_AGG)


def variant_loss(name: str, logits: torch.Tensor, batch: dict[str, torch.Tensor], s: LossSettings) -> torch.Tensor:
    """The micro-batch loss of one variant from fp32 logits ``[B, L, V]``."""
    mask = batch["mask"]
    fused_entropy = None
    if name in ("grpo_fused", "dsdr_full_fused"):
        log_prob, fused_entropy = fused_log_probs_entropy(
            logits, batch["labels"], s.chunk_rows, with_entropy=name == "dsdr_full_fused"
        )
    else:
        log_prob = token_log_probs(logits, batch["labels"])
    loss, _ = ppo_clip_loss(log_prob, batch["old_log_prob"], batch["advantages"], mask, s)
    if name in ("grpo", "grpo_fused"):
        return loss
    if name == "dsdr_full_fused":
        tokens = fused_entropy
    elif name == "dsdr_is":
        tokens = is_entropy_tokens(log_prob, batch["old_log_prob"], mask)
    else:
        flat = logits.reshape(-1, logits.shape[-1])
        if name == "dsdr_full_naive":
            entropy = entropy_rows(flat)
        elif name == "dsdr_full_chunked":
            entropy = entropy_chunk_checkpointed(flat, s.chunk_rows)
        elif name == "dsdr_full_verl_ckpt":
            entropy = checkpoint(entropy_chunked, flat, s.chunk_rows, use_reentrant=False)
        else:
            raise ValueError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
        tokens = entropy.view(mask.shape)
    return loss - s.lambda_l * local_term(tokens, batch["coef"], mask)


# --- model, batch, one step ------------------------------------------------------------------


def build_model(shape: Shape, device: torch.device, dtype: torch.dtype, seq_len: int, seed: int) -> Any:
    """Random-initialised Qwen3 causal LM of ``shape`` (nothing downloaded), sdpa, gradient checkpointing."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    config = Qwen3Config(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        tie_word_embeddings=True,
        max_position_embeddings=max(seq_len, 4096),
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        use_cache=False,
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=dtype)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model


def make_batch(shape: Shape, batch: int, seq_len: int, device: torch.device, seed: int) -> dict[str, torch.Tensor]:
    """Token ids, next-token labels, a response mask with lengths in [L/2, L], old log-probs near the
    current ones, +-1 advantages per sequence and DSDR coefficients c_i = G * w_i (0 for incorrect)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, shape.vocab, (batch, seq_len), generator=gen)
    length = seq_len - 1
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=gen)
    mask = torch.arange(length)[None, :] < lengths[:, None]
    correct = torch.arange(batch) % 2 == 0
    advantages = torch.where(correct, 1.0, -1.0)[:, None].expand(batch, length).contiguous()
    weights = torch.rand(batch, generator=gen) * correct
    coef = batch * weights / weights.sum().clamp_min(1e-8)
    return {
        "input_ids": ids.to(device),
        "labels": ids[:, 1:].contiguous().to(device),
        "mask": mask.to(device),
        "advantages": advantages.to(device),
        "coef": coef.to(device),
        "old_log_prob_noise": (0.05 * torch.randn(batch, length, generator=gen)).to(device),
    }


def step(model: Any, name: str, batch: dict[str, torch.Tensor], s: LossSettings) -> None:
    """One forward + backward of variant ``name`` (the caller resets gradients to None first)."""
    logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
    loss = variant_loss(name, logits, batch, s)
    loss.backward()


def head_step(logits: torch.Tensor, name: str, batch: dict[str, torch.Tensor], s: LossSettings) -> None:
    """The loss head alone: variant loss from fixed fp32 logits (a leaf) + backward to the logits."""
    logits.grad = None
    variant_loss(name, logits, batch, s).backward()


def add_old_log_probs(model: Any, batch: dict[str, torch.Tensor]) -> None:
    """pi_old = the current policy's log-probs plus small noise (so ratios differ from 1 and clip)."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
        batch["old_log_prob"] = token_log_probs(logits, batch["labels"]) + batch["old_log_prob_noise"]
    del logits


# --- memory ------------------------------------------------------------------------------------


def _sync(device: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def peak_bytes(run: Callable[[], None], device: torch.device) -> tuple[int | None, str]:
    """Peak bytes of live tensors during ``run`` and how that was measured."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        run()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device), "torch.cuda.max_memory_allocated"
    return _cpu_peak_bytes(run)


def _cpu_peak_bytes(run: Callable[[], None]) -> tuple[int | None, str]:
    """CPU: replay torch.profiler's allocation timeline (tensors alive before the step + running max
    of allocations minus frees during it). tracemalloc does not see torch's allocator and the
    process RSS keeps freed pages, so neither measures a step's tensors."""
    from torch.profiler import ProfilerActivity, profile

    method = "torch.profiler memory timeline (CPU tensors: live at start + peak of allocations - frees)"
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        run()
    try:
        timeline = prof._memory_profile().timeline
    except Exception as exc:  # private API: report instead of guessing
        return None, f"unavailable ({exc!r})"
    preexisting: dict[Any, int] = {}
    live = peak = 0
    for _t, action, key, size in timeline:
        kind = action.name
        if kind == "PREEXISTING":
            preexisting[key[0]] = size
        elif kind == "CREATE":
            live += size
            peak = max(peak, live)
        elif kind == "DESTROY":
            live -= size
    return sum(preexisting.values()) + peak, method


# --- driver -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write all figures to this JSON file")
    p.add_argument("--device", default=None, help="cuda | cuda:N | cpu (default: cuda if available)")
    p.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-1.7b")
    p.add_argument("--batch", type=int, default=4, help="sequences per micro-batch")
    p.add_argument("--seq-len", type=int, default=4096, help="tokens per sequence")
    p.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument(
        "--head-repeats", type=int, default=None, help="timed rounds of the loss head alone (default 3 x --repeats)"
    )
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset; grpo is always run")
    p.add_argument("--chunk-rows", type=int, default=2048, help="rows per entropy chunk (verl's default 2048)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory step")
    p.add_argument(
        "--no-malloc-cache",
        action="store_true",
        help="CPU: keep glibc's default of returning large blocks to the OS (page faults every step)",
    )
    p.add_argument(
        "--cpu-small",
        action="store_true",
        help="small shape on CPU (2 layers, hidden 256, vocabulary 32,768, 2 x 512 tokens)",
    )
    p.add_argument("--smoke", action="store_true", help="tiny shape on CPU, 1 round: checks that everything runs")
    args = p.parse_args(argv)
    if args.cpu_small:
        args.device, args.shape, args.batch, args.seq_len, args.chunk_rows = "cpu", "cpu-small", 2, 512, 256
        args.repeats = max(args.repeats, 9)
    if args.smoke:
        args.device, args.shape, args.batch, args.seq_len, args.chunk_rows = "cpu", "smoke", 2, 64, 32
        args.repeats, args.warmup = 1, 1
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.head_repeats is None:
        args.head_repeats = 2 * args.repeats
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    args.variant_list = ["grpo"] + [v for v in names if v != "grpo"]
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    malloc_cached = device.type == "cpu" and not args.no_malloc_cache and bc.cache_cpu_allocations()
    environment = bc.environment(args.device)  # load averages before the run
    shape = SHAPES[args.shape]
    dtype = getattr(torch, args.dtype)
    settings = LossSettings(chunk_rows=args.chunk_rows)
    model = build_model(shape, device, dtype, args.seq_len, args.seed)
    batch = make_batch(shape, args.batch, args.seq_len, device, args.seed)
    add_old_log_probs(model, batch)
    sync = _sync(device)

    names = args.variant_list
    for _ in range(args.warmup):
        for name in names:
            model.zero_grad(set_to_none=True)
            step(model, name, batch, settings)
    runs: dict[str, list[float]] = {name: [] for name in names}
    cpu_runs: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeats):  # interleaved rounds: drifting machine load hits every variant alike
        for name in names:
            model.zero_grad(set_to_none=True)
            wall, cpu, _ = bc.time_once_cpu(lambda name=name: step(model, name, batch, settings), sync)
            runs[name].append(wall)
            cpu_runs[name].append(cpu)
    memory: dict[str, int | None] = {name: None for name in names}
    method = "skipped (--no-memory)"
    if not args.no_memory:
        for name in names:
            model.zero_grad(set_to_none=True)  # gradients are allocated inside the measured step
            memory[name], method = peak_bytes(lambda name=name: step(model, name, batch, settings), device)
    model.zero_grad(set_to_none=True)
    head_runs, head_cpu_runs = time_heads(model, names, batch, settings, args.head_repeats, sync)
    is_term = time_is_term(model, batch, settings, 200, sync) if "dsdr_is" in names else None

    variants: dict[str, Any] = {}
    for name in names:
        m = memory[name]
        variants[name] = {
            "time_median_s": statistics.median(runs[name]),
            "cpu_time_median_s": statistics.median(cpu_runs[name]),
            "time_runs_s": runs[name],
            "peak_memory_bytes": m,
            "peak_memory_gib": m / 2**30 if m is not None else None,
            "head_time_median_s": statistics.median(head_runs[name]),
            "head_cpu_time_median_s": statistics.median(head_cpu_runs[name]),
        }
    base = variants["grpo"]
    for name in names:
        v = variants[name]
        v.update(_relative(v, base))
        v["head_extra_s"] = v["head_time_median_s"] - base["head_time_median_s"]
        v["time_ratio_from_head"] = bc.ratio(base["time_median_s"] + v["head_extra_s"], base["time_median_s"])
        head_cpu_extra = v["head_cpu_time_median_s"] - base["head_cpu_time_median_s"]
        v["cpu_time_ratio_from_head"] = bc.ratio(base["cpu_time_median_s"] + head_cpu_extra, base["cpu_time_median_s"])
    if is_term is not None:
        is_term["time_ratio_from_loss"] = bc.ratio(
            base["time_median_s"] + is_term["is_term_extra_s"], base["time_median_s"]
        )
        variants["dsdr_is"]["is_term"] = is_term
    ratios = {f"{n}_{k}": variants[n][f"{k}_ratio"] for n in names for k in ("time", "cpu_time", "memory")}
    if "grpo_fused" in variants and "dsdr_full_fused" in variants:
        vs_fused = _relative(variants["dsdr_full_fused"], variants["grpo_fused"])
        variants["dsdr_full_fused"]["vs_grpo_fused"] = vs_fused
        ratios["dsdr_full_fused_vs_grpo_fused_time"] = vs_fused["time_ratio"]
        ratios["dsdr_full_fused_vs_grpo_fused_cpu_time"] = vs_fused["cpu_time_ratio"]
        ratios["dsdr_full_fused_vs_grpo_fused_memory"] = vs_fused["memory_ratio"]
    goals = {}
    for name, goal in GOALS.items():
        if name in variants:
            goals[name] = _goal(variants[name], goal)
    if "dsdr_full_fused" in variants:
        goals["dsdr_full_fused"] = _goal(variants["dsdr_full_fused"], GOALS["dsdr_full_chunked"])
    result = {
        "benchmark": "actor_loss",
        "command": "python " + " ".join([os.path.relpath(__file__)] + list(argv if argv is not None else sys.argv[1:])),
        "smoke": args.smoke,
        "environment": environment,
        "config": {
            "shape": args.shape,
            **shape.__dict__,
            "tied_embeddings": True,
            "batch": args.batch,
            "seq_len": args.seq_len,
            "dtype": args.dtype,
            "logits": "float32",
            "attention": "sdpa",
            "gradient_checkpointing": True,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "chunk_rows": args.chunk_rows,
            "threads": args.threads,
            "cpu_malloc_cached": malloc_cached,
            "lambda_l": settings.lambda_l,
            "clip": [settings.clip_low, settings.clip_high],
            "policy_loss_agg": "token-mean",
            "local_term_agg": "seq-mean-token-mean",
        },
        "memory_method": method,
        "variants": variants,
        "ratios": ratios,
        "goals": goals,
    }
    result["environment"]["load_average_end"] = bc.load_average()
    report(result)
    bc.write_json(args.json, result)
    return result


def time_heads(
    model: Any,
    names: Sequence[str],
    batch: dict[str, torch.Tensor],
    s: LossSettings,
    repeats: int,
    sync: Callable[[], None],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Interleaved wall and CPU timings of the loss head alone (the only part that differs between variants)."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
    logits.requires_grad_(True)
    for name in names:
        head_step(logits, name, batch, s)
    runs: dict[str, list[float]] = {name: [] for name in names}
    cpu_runs: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            # ruff reads the `del logits` below as unbinding the name for this (immediately called) closure
            wall, cpu, _ = bc.time_once_cpu(lambda name=name: head_step(logits, name, batch, s), sync)  # noqa: F821
            runs[name].append(wall)
            cpu_runs[name].append(cpu)
    logits.grad = None
    del logits
    return runs, cpu_runs


def time_is_term(
    model: Any, batch: dict[str, torch.Tensor], s: LossSettings, repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """The only work (b) adds to (a): the loss from fixed log-probs, with and without the IS term.

    Both losses are built from the same leaf log-probs ``[B, L]`` and back-propagated to them;
    the difference of the medians is the IS term's whole cost (forward + backward).
    """
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], use_cache=False).logits[:, :-1].float()
        log_prob = token_log_probs(logits, batch["labels"])
    del logits
    log_prob.requires_grad_(True)
    mask, old = batch["mask"], batch["old_log_prob"]

    def run(with_is: bool) -> None:
        log_prob.grad = None
        loss, _ = ppo_clip_loss(log_prob, old, batch["advantages"], mask, s)
        if with_is:
            loss = loss - s.lambda_l * local_term(is_entropy_tokens(log_prob, old, mask), batch["coef"], mask)
        loss.backward()

    runs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(3):
        run(False), run(True)
    for _ in range(repeats):
        for with_is in (False, True):
            seconds, _ = bc.time_once(lambda with_is=with_is: run(with_is), sync)
            runs[with_is].append(seconds)
    grpo, dsdr = statistics.median(runs[False]), statistics.median(runs[True])
    return {"grpo_loss_s": grpo, "dsdr_is_loss_s": dsdr, "is_term_extra_s": dsdr - grpo, "repeats": repeats}


def _relative(v: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    m, bm = v["peak_memory_bytes"], base["peak_memory_bytes"]
    return {
        "time_ratio": bc.ratio(v["time_median_s"], base["time_median_s"]),
        "cpu_time_ratio": bc.ratio(v["cpu_time_median_s"], base["cpu_time_median_s"]),
        "memory_ratio": bc.ratio(m, bm) if m is not None and bm else None,
        "extra_memory_bytes": m - bm if m is not None and bm is not None else None,
    }


def _goal(v: dict[str, Any], goal: dict[str, float]) -> dict[str, Any]:
    """Ratios are compared at the goals' precision (two decimals: "1.00x")."""
    return {
        "time_goal": goal["time"],
        "memory_goal": goal["memory"],
        "time_ratio": v["time_ratio"],
        "cpu_time_ratio": v["cpu_time_ratio"],
        "memory_ratio": v["memory_ratio"],
        "time_ratio_from_head": v["time_ratio_from_head"],
        "cpu_time_ratio_from_head": v["cpu_time_ratio_from_head"],
        "time_ratio_from_loss": v.get("is_term", {}).get("time_ratio_from_loss"),
        "time_met": round(v["time_ratio"], 2) <= goal["time"],
        "cpu_time_met": round(v["cpu_time_ratio"], 2) <= goal["time"],
        "time_met_from_head": round(v["time_ratio_from_head"], 2) <= goal["time"],
        "memory_met": v["memory_ratio"] is not None and round(v["memory_ratio"], 2) <= goal["memory"],
    }


def report(r: dict[str, Any]) -> None:
    rows = []
    for name, v in r["variants"].items():
        gib = v["peak_memory_gib"]
        rows.append(
            [
                name,
                bc.fmt(v["time_median_s"], 4),
                bc.fmt(v["time_ratio"]),
                bc.fmt(v["cpu_time_ratio"]),
                bc.fmt(1e3 * v["head_extra_s"], 2),
                bc.fmt(v["time_ratio_from_head"]),
                bc.fmt(v["cpu_time_ratio_from_head"]),
                bc.fmt(gib, 3) if gib is not None else "n/a",
                bc.fmt(v["memory_ratio"]),
            ]
        )
    c = r["config"]
    bc.print_table(
        f"Actor step, {c['shape']} ({c['batch']} x {c['seq_len']} tokens, {c['dtype']}) "
        f"on {r['environment']['device_requested']}",
        [
            "variant",
            "step s",
            "x grpo",
            "x grpo cpu-time",
            "head +ms",
            "x via head",
            "x via head cpu-time",
            "peak GiB",
            "x grpo",
        ],
        rows,
    )
    print(f"  memory: {r['memory_method']}")
    print("  step s: median wall clock; cpu-time: this process's CPU seconds (robust to other jobs on a shared CPU)")
    print(
        "  head +ms: extra milliseconds of the loss head alone (fixed logits); x via head: "
        "(grpo step + head extra) / grpo step"
    )
    is_term = r["variants"].get("dsdr_is", {}).get("is_term")
    if is_term:
        print(
            f"  IS term alone (loss from fixed log-probs, median of {is_term['repeats']}): "
            f"+{1e3 * is_term['is_term_extra_s']:.3f} ms -> x grpo {bc.fmt(is_term['time_ratio_from_loss'], 5)}"
        )
    for name, g in r["goals"].items():
        print(
            f"  goal {name}: time {bc.fmt(g['time_ratio'])} <= {g['time_goal']} "
            f"({'met' if g['time_met'] else 'NOT met'}; cpu-time {bc.fmt(g['cpu_time_ratio'])}: "
            f"{'met' if g['cpu_time_met'] else 'NOT met'}; via head {bc.fmt(g['time_ratio_from_head'])}: "
            f"{'met' if g['time_met_from_head'] else 'NOT met'}), "
            f"memory {bc.fmt(g['memory_ratio'])} <= {g['memory_goal']} "
            f"({'met' if g['memory_met'] else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
