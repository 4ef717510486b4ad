"""What DSDR's diversity adds to one step, beside the plain GRPO work measured in the same run.

Reward side (per rollout, in verl's reward-loop workers, overlapped with generation):
  GRPO's work    the verifier ``score_correctness`` on the response;
  DSDR adds      ``extract_formulas`` (string mode; sympy mode cold and warm-cache) and the
                 response embedding (``ResponseEmbedder``, all-MiniLM-L6-v2, truncate and mean
                 chunking), reported in ms per rollout and as seconds for a whole step's rollouts
                 spread over N reward workers.
Trainer side (once per step, on the driver, after all rollouts are in):
  GRPO's work    per-uid mean/std normalisation of the scores (verl's
                 ``compute_grpo_outcome_advantage`` when verl is importable, and the project's
                 torch-only form, ``verl_dsdr.algorithms.baselines.grpo_advantages``);
  DSDR adds      ``gather_inputs`` (``verl_dsdr.methods.wire.decode_batch``) + ``dsdr_stats`` from the
                 per-trajectory extras.

Rollouts are seeded synthetic math solutions (``bench_common.synthetic_rollouts``). Run from the
repository root:  python scripts/bench_diversity.py --json bench/diversity.json
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_key, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
if str(_HERE.parent) not in sys.path:
    sys.path.insert(1, str(_HERE.parent))

import bench_common as bc  # noqa: E402

GOALS = {
    "formulas_string_ms_per_long_rollout": 1.0,
    "formulas_string_s_per_2048_long_rollouts": 2.0,
    "group_step_ms": 50.0,
    "group_step_to_grpo": 1.0,  # below verl's own GRPO normalisation on the same batch (torch's without verl)
}
EMBED_DIM = 384


# --- reward side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerRollout:
    """Milliseconds per item: fastest and median pass (wall clock), fastest pass in this process's CPU time."""

    ms: float
    median_ms: float
    cpu_ms: float
    results: list


def _per_rollout_ms(fn: Any, items: Sequence[Any], passes: int = 1, before_pass: Any = None) -> PerRollout:
    """Time ``passes`` passes of ``fn`` over ``items``; the last pass's results are returned.

    On a shared machine the fastest pass is the least disturbed one; CPU time (this process
    only: work done in a child process is not in it) does not count waiting for a core.
    ``before_pass`` runs untimed before every pass (e.g. to clear a cache).
    """
    walls, cpus, results = [], [], []
    for _ in range(passes):
        if before_pass is not None:
            before_pass()
        wall, cpu, results = bc.time_once_cpu(lambda: [fn(x) for x in items])
        walls.append(1e3 * wall / max(1, len(items)))
        cpus.append(1e3 * cpu / max(1, len(items)))
    return PerRollout(min(walls), statistics.median(walls), min(cpus), results)


def bench_verifier(rollouts: Sequence[bc.Rollout], passes: int) -> dict[str, Any]:
    """GRPO's per-rollout reward work: the rule-based verifier (string match, else math-verify)."""
    from verl_dsdr.scoring.correctness import score_correctness

    wrong = next((r for r in rollouts if not r.correct), rollouts[0])
    score_correctness(wrong.text, wrong.ground_truth)  # starts the bounded math-verify worker
    t = _per_rollout_ms(lambda r: score_correctness(r.text, r.ground_truth), rollouts, passes)
    scores = t.results
    agree = sum(float(s) == float(r.correct) for s, r in zip(scores, rollouts)) / max(1, len(rollouts))
    return {
        "ms_per_rollout": t.ms,
        "ms_per_rollout_median_pass": t.median_ms,
        "passes": passes,
        "rollouts": len(rollouts),
        "accuracy": sum(scores) / len(scores),
        "agreement_with_intended": agree,
        "note": "math-verify runs in a bounded worker process: wall clock only",
    }


def bench_formulas_string(mix: Sequence[bc.Rollout], long: Sequence[bc.Rollout], passes: int) -> dict[str, Any]:
    from verl_dsdr.scoring.formulas import extract_formulas

    extract_formulas(mix[0].text)  # compiles the lazily built patterns
    mix_t = _per_rollout_ms(extract_formulas, [r.text for r in mix], passes)
    long_t = _per_rollout_ms(extract_formulas, [r.text for r in long], passes)
    mix_ms, mix_sets, long_ms, long_sets = mix_t.ms, mix_t.results, long_t.ms, long_t.results
    long_kb = sum(len(r.text) for r in long) / 1024 / max(1, len(long))
    return {
        "ms_per_rollout_mix": mix_ms,
        "rollouts_mix": len(mix),
        "formulas_per_rollout_mix": sum(map(len, mix_sets)) / max(1, len(mix_sets)),
        "ms_per_rollout_long": long_ms,
        "ms_per_rollout_long_median_pass": long_t.median_ms,
        "cpu_ms_per_rollout_long": long_t.cpu_ms,
        "passes": passes,
        "rollouts_long": len(long),
        "long_rollout_kb": long_kb,
        "long_rollout_tokens": sum(r.tokens for r in long) / max(1, len(long)),
        "formulas_per_rollout_long": sum(map(len, long_sets)) / max(1, len(long_sets)),
        "ms_per_kb": long_ms / long_kb if long_kb else float("nan"),
        "s_per_2048_long_rollouts": long_ms * 2048 / 1e3,
        "cpu_s_per_2048_long_rollouts": long_t.cpu_ms * 2048 / 1e3,
    }


def bench_formulas_sympy(rollouts: Sequence[bc.Rollout], time_limit: float, passes: int) -> dict[str, Any]:
    """Cold cache (cleared before each pass) then warm cache (the same rollouts again)."""
    from verl_dsdr.scoring import formulas as fm

    fm._sympy_cache.clear()
    fm.extract_formulas("warm up the worker: $x+1$", canonical="sympy", time_limit=time_limit)
    texts = [r.text for r in rollouts]
    parse = lambda t: fm.extract_formulas(t, "sympy", time_limit)  # noqa: E731
    cold = _per_rollout_ms(parse, texts, passes, before_pass=fm._sympy_cache.clear)
    warm = _per_rollout_ms(parse, texts, passes)
    cold_ms, cold_median, warm_ms, warm_sets = cold.ms, cold.median_ms, warm.ms, warm.results
    parsed = sum(sum(k.startswith("sympy:") for k in s) for s in warm_sets)
    total = sum(len(s) for s in warm_sets)
    return {
        "cold_ms_per_rollout": cold_ms,
        "cold_ms_per_rollout_median_pass": cold_median,
        "warm_ms_per_rollout": warm_ms,
        "passes": passes,
        "rollouts": len(rollouts),
        "rollout_tokens": sum(r.tokens for r in rollouts) / max(1, len(rollouts)),
        "time_limit_s": time_limit,
        "bound_s_per_rollout": fm.SYMPY_RESPONSE_BUDGET * time_limit,
        "fraction_parsed_by_sympy": parsed / total if total else 0.0,
        "cache_entries": len(fm._sympy_cache),
        "note": "cold parses run in a bounded worker process: wall clock only",
    }


def bench_embedding(
    rollouts: Sequence[bc.Rollout], device: str, batch_size: int, modes: Sequence[str], passes: int
) -> dict[str, Any]:
    from transformers.utils import logging as hf_logging

    from verl_dsdr.scoring.embedder import ResponseEmbedder

    hf_logging.disable_progress_bar()
    out: dict[str, Any] = {}
    texts = [r.text for r in rollouts]
    for mode in modes:
        load_s, embedder = bc.time_once(
            lambda mode=mode: ResponseEmbedder(device=device, batch_size=batch_size, chunking=mode)
        )
        embedder.encode(texts[:2])  # warm-up
        t = _per_rollout_ms(embedder.encode, [texts], passes)
        out[mode] = {
            "ms_per_rollout": t.ms / len(texts),
            "ms_per_rollout_median_pass": t.median_ms / len(texts),
            "cpu_ms_per_rollout": t.cpu_ms / len(texts),
            "passes": passes,
            "rollouts": len(texts),
            "rollout_tokens": sum(r.tokens for r in rollouts) / len(rollouts),
            "batch_size": batch_size,
            "load_s": load_s,
            "device": embedder.device,
            "dim": embedder.dim,
        }
        del embedder
    return out


def implied_step_seconds(ms_per_rollout: float, rollouts: int, workers: Sequence[int]) -> dict[str, float]:
    """Seconds per step if ``rollouts`` are split evenly over ``w`` reward workers, one core each."""
    return {f"workers_{w}": ms_per_rollout * rollouts / w / 1e3 for w in workers}


# --- trainer side ----------------------------------------------------------------------------


def synthetic_extras(groups: int, group_size: int, formulas: int, seed: int) -> tuple[list, list, list]:
    """(extra_fields, uids, padding) as the trainer reads them from TransferQueue.

    Embeddings are random unit vectors with a per-group shared direction (rollouts of a prompt
    are similar); each formula set draws 2/3 of its keys from a group pool and 1/3 of its own.
    """
    import numpy as np

    from verl_dsdr.methods.wire import formula_hashes

    rng = random.Random(seed)
    extras, uids = [], []
    for g in range(groups):
        base = [rng.gauss(0.0, 1.0) for _ in range(EMBED_DIM)]
        pool = [f"\\frac{{{g}}}{{{k}}}+x^{{{k}}}=\\sqrt{{{k + g}}}" for k in range(formulas * 2)]
        for i in range(group_size):
            vec = [b + 0.7 * rng.gauss(0.0, 1.0) for b in base]
            norm = sum(v * v for v in vec) ** 0.5
            shared = rng.sample(pool, (2 * formulas) // 3)
            own = [f"x_{{{g},{i},{k}}}={rng.randint(0, 10**6)}" for k in range(formulas - len(shared))]
            # What the reward workers send (``verl_dsdr.methods.wire``): float32 z_i, the keys' digests.
            info = {
                "dsdr_correct": float(rng.random() < 0.5),
                "dsdr_embedding": np.array([v / norm for v in vec], dtype=np.float32),
                "dsdr_formulas": formula_hashes(shared + own),
                "dsdr_scoring_seconds": 0.01,
            }
            extras.append({"reward_extra_info": info})
            uids.append(f"uid-{g}")
    return extras, uids, [False] * len(extras)


def dsdr_settings() -> Any:
    """DSDR's default settings (``algorithm.dsdr``), as training uses them."""
    from verl_dsdr.methods.dsdr import DSDRConfig

    return DSDRConfig()


def _verl_grpo() -> Any | None:
    try:
        from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
    except Exception:  # verl absent or broken: the torch form is the baseline
        return None
    return compute_grpo_outcome_advantage


def bench_trainer_side(
    groups: int, group_size: int, formulas: int, response_length: int, repeats: int, seed: int, with_verl: bool
) -> dict[str, Any]:
    import numpy as np
    import torch

    from verl_dsdr.algorithms.baselines import grpo_advantages
    from verl_dsdr.algorithms.dsdr import formula_uniqueness, semantic_diversity
    from verl_dsdr.methods import method
    from verl_dsdr.methods.dsdr import dsdr_metrics, dsdr_stats
    from verl_dsdr.methods.wire import EMBEDDING, FORMULAS
    from verl_dsdr.methods.wire import decode_batch as gather_inputs

    extras, uids, padding = synthetic_extras(groups, group_size, formulas, seed)
    settings = dsdr_settings()
    fields = method("dsdr").reward_fields(settings)
    batch = len(extras)

    def dsdr_step() -> Any:
        inputs = gather_inputs(extras, uids, padding, fields)
        return inputs, dsdr_stats(inputs, settings)

    inputs, stats = dsdr_step()
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(response_length // 4, response_length + 1, (batch,), generator=gen)
    mask = (torch.arange(response_length)[None, :] < lengths[:, None]).float()
    rewards = torch.zeros(batch, response_length)
    rewards[torch.arange(batch), lengths - 1] = inputs.correct.float()
    index = np.array(uids, dtype=object)

    dsdr_t = bc.time_call(dsdr_step, repeats)
    gather_t = bc.time_call(lambda: gather_inputs(extras, uids, padding, fields), repeats)
    stats_t = bc.time_call(lambda: dsdr_stats(inputs, settings), repeats)
    metrics_t = bc.time_call(lambda: dsdr_metrics(inputs, stats, settings), repeats)
    peers = inputs.real  # settings.peers == "all"
    semantic_t = bc.time_call(
        lambda: semantic_diversity(inputs.fields[EMBEDDING], inputs.index, peer_mask=peers), repeats
    )
    formula_t = bc.time_call(
        lambda: formula_uniqueness(inputs.fields[FORMULAS], inputs.index, peer_mask=peers), repeats
    )
    torch_t = bc.time_call(lambda: grpo_advantages(rewards, mask, index), repeats)
    out: dict[str, Any] = {
        "rollouts": batch,
        "groups": groups,
        "group_size": group_size,
        "embedding_dim": EMBED_DIM,
        "formulas_per_rollout": formulas,
        "response_length": response_length,
        "dsdr_group_step_ms": 1e3 * dsdr_t.median_s,
        "dsdr_group_step_min_ms": 1e3 * dsdr_t.min_s,
        "dsdr_group_step_cpu_ms": 1e3 * dsdr_t.cpu_median_s,
        "gather_inputs_ms": 1e3 * gather_t.median_s,
        "dsdr_stats_ms": 1e3 * stats_t.median_s,
        "semantic_diversity_ms": 1e3 * semantic_t.median_s,
        "formula_uniqueness_ms": 1e3 * formula_t.median_s,
        "dsdr_metrics_ms": 1e3 * metrics_t.median_s,
        "grpo_torch_ms": 1e3 * torch_t.median_s,
        "grpo_torch_cpu_ms": 1e3 * torch_t.cpu_median_s,
        "grpo_verl_ms": None,
        "grpo_verl_cpu_ms": None,
        "repeats": repeats,
    }
    verl_grpo = _verl_grpo() if with_verl else None
    if verl_grpo is not None:
        ref, _ = verl_grpo(rewards, mask, index)
        mine = grpo_advantages(rewards, mask, index)
        out["grpo_torch_matches_verl"] = bool(torch.allclose(ref, mine, atol=1e-5))
        verl_t = bc.time_call(lambda: verl_grpo(rewards, mask, index), repeats)
        out["grpo_verl_ms"] = 1e3 * verl_t.median_s
        out["grpo_verl_cpu_ms"] = 1e3 * verl_t.cpu_median_s
    return out


# --- driver ----------------------------------------------------------------------------------


def goal_entry(name: str, measured: float, measured_cpu_time: float) -> dict[str, Any]:
    """One goal's JSON entry: its target (``GOALS``), the wall and CPU figures, and whether each is under it."""
    target = GOALS[name]
    return {
        "goal": target,
        "measured": measured,
        "measured_cpu_time": measured_cpu_time,
        "met": measured < target,
        "met_cpu_time": measured_cpu_time < target,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write all figures to this JSON file")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (seconds): checks that everything runs")
    p.add_argument("--rollouts", type=int, default=8, help="rollouts per group (verl's rollout.n)")
    p.add_argument("--groups", type=int, default=256, help="prompts per step (verl's train_batch_size)")
    p.add_argument("--device", default="cpu", help="embedder device: cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=3000, help="longest response (tokens ~ 4 characters)")
    p.add_argument("--verifier-rollouts", type=int, default=512)
    p.add_argument("--sympy-rollouts", type=int, default=8)
    p.add_argument("--sympy-time-limit", type=float, default=1.0)
    p.add_argument("--embed-rollouts", type=int, default=32)
    p.add_argument("--embed-batch-size", type=int, default=32)
    p.add_argument("--workers", default="1,8,32", help="reward-worker counts for the implied step seconds")
    p.add_argument("--formulas", type=int, default=30, help="formula keys per rollout in the group step")
    p.add_argument("--passes", type=int, default=2, help="passes over each reward-side set (the fastest counts)")
    p.add_argument("--repeats", type=int, default=20, help="timed repeats of the group step (median)")
    p.add_argument("--no-verl", action="store_true", help="do not time verl's own GRPO advantage")
    args = p.parse_args(argv)
    if args.smoke:
        args.groups, args.rollouts, args.max_tokens = 2, 4, 400
        args.verifier_rollouts, args.sympy_rollouts, args.embed_rollouts = 8, 1, 4
        args.embed_batch_size, args.repeats, args.passes = 4, 2, 1
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    environment = bc.environment(args.device)  # load averages before the run
    step_rollouts = args.groups * args.rollouts
    workers = [int(w) for w in args.workers.split(",")]
    mix = bc.synthetic_rollouts(
        args.groups, args.rollouts, args.seed, min_tokens=min(500, args.max_tokens // 2), max_tokens=args.max_tokens
    )
    long = bc.long_rollouts(step_rollouts, args.seed + 1, tokens=args.max_tokens, group_size=args.rollouts)

    verifier = bench_verifier(mix[: args.verifier_rollouts], args.passes)
    string = bench_formulas_string(mix, long, args.passes)
    sympy = bench_formulas_sympy(long[: args.sympy_rollouts], args.sympy_time_limit, args.passes)
    embedding = bench_embedding(
        long[: args.embed_rollouts], args.device, args.embed_batch_size, ("truncate", "mean"), args.passes
    )
    trainer = bench_trainer_side(
        args.groups, args.rollouts, args.formulas, args.max_tokens, args.repeats, args.seed, with_verl=not args.no_verl
    )

    v = verifier["ms_per_rollout"]
    grpo_trainer_ms = trainer["grpo_verl_ms"] if trainer["grpo_verl_ms"] is not None else trainer["grpo_torch_ms"]
    grpo_trainer_cpu_ms = (
        trainer["grpo_verl_cpu_ms"] if trainer["grpo_verl_cpu_ms"] is not None else trainer["grpo_torch_cpu_ms"]
    )
    added_default = string["ms_per_rollout_long"] + embedding["truncate"]["ms_per_rollout"]
    ratios = {
        "formulas_string_to_verifier": bc.ratio(string["ms_per_rollout_long"], v),
        "formulas_sympy_cold_to_verifier": bc.ratio(sympy["cold_ms_per_rollout"], v),
        "formulas_sympy_warm_to_verifier": bc.ratio(sympy["warm_ms_per_rollout"], v),
        "embedding_truncate_to_verifier": bc.ratio(embedding["truncate"]["ms_per_rollout"], v),
        "embedding_mean_to_verifier": bc.ratio(embedding["mean"]["ms_per_rollout"], v),
        "reward_side_default_total_to_verifier": bc.ratio(v + added_default, v),
        "group_step_to_grpo": bc.ratio(trainer["dsdr_group_step_ms"], grpo_trainer_ms),
        "group_step_to_grpo_cpu_time": bc.ratio(trainer["dsdr_group_step_cpu_ms"], grpo_trainer_cpu_ms),
        "group_step_to_grpo_torch": bc.ratio(trainer["dsdr_group_step_ms"], trainer["grpo_torch_ms"]),
        "group_step_to_grpo_verl": (
            bc.ratio(trainer["dsdr_group_step_ms"], trainer["grpo_verl_ms"])
            if trainer["grpo_verl_ms"] is not None
            else None
        ),
    }
    implied = {
        "verifier": implied_step_seconds(v, step_rollouts, workers),
        "formulas_string": implied_step_seconds(string["ms_per_rollout_long"], step_rollouts, workers),
        "formulas_sympy_cold": implied_step_seconds(sympy["cold_ms_per_rollout"], step_rollouts, workers),
        "embedding_truncate": implied_step_seconds(embedding["truncate"]["ms_per_rollout"], step_rollouts, workers),
        "embedding_mean": implied_step_seconds(embedding["mean"]["ms_per_rollout"], step_rollouts, workers),
    }
    goals = {
        "formulas_string_ms_per_long_rollout": goal_entry(
            "formulas_string_ms_per_long_rollout", string["ms_per_rollout_long"], string["cpu_ms_per_rollout_long"]
        ),
        "formulas_string_s_per_2048_long_rollouts": goal_entry(
            "formulas_string_s_per_2048_long_rollouts",
            string["s_per_2048_long_rollouts"],
            string["cpu_s_per_2048_long_rollouts"],
        ),
        "group_step_ms": goal_entry("group_step_ms", trainer["dsdr_group_step_ms"], trainer["dsdr_group_step_cpu_ms"]),
        "group_step_to_grpo": goal_entry(
            "group_step_to_grpo", ratios["group_step_to_grpo"], ratios["group_step_to_grpo_cpu_time"]
        ),
    }
    result = {
        "benchmark": "diversity",
        "command": "python " + " ".join([os.path.relpath(__file__)] + list(argv if argv is not None else sys.argv[1:])),
        "smoke": args.smoke,
        "environment": environment,
        "config": {
            "groups": args.groups,
            "rollouts_per_group": args.rollouts,
            "step_rollouts": step_rollouts,
            "max_tokens": args.max_tokens,
            "chars_per_token": bc.CHARS_PER_TOKEN,
            "seed": args.seed,
            "threads": args.threads,
            "workers": workers,
        },
        "reward_side": {
            "rollout_tokens_mean_mix": sum(r.tokens for r in mix) / len(mix),
            "verifier": verifier,
            "formulas_string": string,
            "formulas_sympy": sympy,
            "embedding": embedding,
            "implied_step_seconds": implied,
        },
        "trainer_side": trainer,
        "ratios": ratios,
        "goals": goals,
    }
    result["environment"]["load_average_end"] = bc.load_average()
    report(result)
    bc.write_json(args.json, result)
    return result


def report(r: dict[str, Any]) -> None:
    rs, tr, ra = r["reward_side"], r["trainer_side"], r["ratios"]
    s, y, e = rs["formulas_string"], rs["formulas_sympy"], rs["embedding"]
    rows = [
        ["verifier (GRPO)", bc.fmt(rs["verifier"]["ms_per_rollout"]), "1.000", f"{rs['verifier']['rollouts']} mix"],
        [
            "formulas string",
            bc.fmt(s["ms_per_rollout_long"]),
            bc.fmt(ra["formulas_string_to_verifier"]),
            f"{s['rollouts_long']} x {s['long_rollout_tokens']:.0f} tok, {s['formulas_per_rollout_long']:.0f} keys",
        ],
        ["formulas string, CPU time", bc.fmt(s["cpu_ms_per_rollout_long"]), "", "process CPU time"],
        ["formulas string (mix)", bc.fmt(s["ms_per_rollout_mix"]), "", f"{s['rollouts_mix']} mix"],
        [
            "formulas sympy cold",
            bc.fmt(y["cold_ms_per_rollout"], 1),
            bc.fmt(ra["formulas_sympy_cold_to_verifier"], 1),
            f"{y['rollouts']} long, bound {y['bound_s_per_rollout']:.1f} s",
        ],
        ["formulas sympy warm", bc.fmt(y["warm_ms_per_rollout"]), bc.fmt(ra["formulas_sympy_warm_to_verifier"]), ""],
        [
            "embed truncate",
            bc.fmt(e["truncate"]["ms_per_rollout"], 1),
            bc.fmt(ra["embedding_truncate_to_verifier"], 1),
            f"{e['truncate']['rollouts']} long, {e['truncate']['device']}",
        ],
        ["embed mean", bc.fmt(e["mean"]["ms_per_rollout"], 1), bc.fmt(ra["embedding_mean_to_verifier"], 1), ""],
    ]
    bc.print_table("Reward side, per rollout", ["stage", "ms/rollout", "x verifier", "on"], rows)
    imp = rs["implied_step_seconds"]
    keys = list(next(iter(imp.values())))
    bc.print_table(
        f"Implied seconds per step ({r['config']['step_rollouts']} rollouts)",
        ["stage"] + keys,
        [[k] + [bc.fmt(v[w], 2) for w in keys] for k, v in imp.items()],
    )
    rows = [
        ["DSDR gather_inputs + dsdr_stats", bc.fmt(tr["dsdr_group_step_ms"], 2)],
        ["  same, process CPU time", bc.fmt(tr["dsdr_group_step_cpu_ms"], 2)],
        ["  gather_inputs", bc.fmt(tr["gather_inputs_ms"], 2)],
        ["  dsdr_stats", bc.fmt(tr["dsdr_stats_ms"], 2)],
        ["    of which semantic_diversity", bc.fmt(tr["semantic_diversity_ms"], 2)],
        ["    of which formula_uniqueness", bc.fmt(tr["formula_uniqueness_ms"], 2)],
        ["DSDR dsdr_metrics (logging)", bc.fmt(tr["dsdr_metrics_ms"], 2)],
        ["GRPO normalisation, torch", bc.fmt(tr["grpo_torch_ms"], 2)],
        ["GRPO normalisation, verl", bc.fmt(tr["grpo_verl_ms"], 2)],
        ["  same, process CPU time", bc.fmt(tr["grpo_verl_cpu_ms"], 2)],
    ]
    bc.print_table(f"Trainer side, {tr['rollouts']} rollouts (median of {tr['repeats']})", ["step", "ms"], rows)
    print(
        f"\n  group step / GRPO: {bc.fmt(ra['group_step_to_grpo'], 2)}x (verl), "
        f"{bc.fmt(ra['group_step_to_grpo_torch'], 2)}x (torch)"
    )
    for name, g in r["goals"].items():
        cpu = f" (CPU time {bc.fmt(g['measured_cpu_time'])})" if "measured_cpu_time" in g else ""
        met_cpu = f", CPU time: {'met' if g['met_cpu_time'] else 'NOT met'}" if "met_cpu_time" in g else ""
        print(
            f"  goal {name}: {bc.fmt(g['measured'])}{cpu} < {g['goal']} -> {'met' if g['met'] else 'NOT met'}{met_cpu}"
        )


if __name__ == "__main__":
    main()
