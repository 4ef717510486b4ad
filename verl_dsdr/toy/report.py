"""The toy reproduction's report: markdown tables and PNG figures, mean and spread over seeds.

Reads what ``python -m verl_dsdr.toy run`` leaves in ``<out>``: ``plan.json``, ``timing.json``,
``runs/<method>/seed<k>/{metrics.jsonl,samples.jsonl,DONE}`` and ``eval/metrics.json`` (the
evaluation CLI's output over every run's samples). Writes ``report.md``, ``summary.csv`` (one row
per run), ``training_curves.png``, ``dsdr_diversity.png``, ``pass_at_k.png`` and
``eval_diversity.png`` into ``<out>``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from verl_dsdr.assets.task import is_mistake, mistake_forms, parse_question
from verl_dsdr.eval.plots import plot_pass_at_k
from verl_dsdr.summary import read_metrics
from verl_dsdr.toy.compare import ProblemTable, method_value, paired_difference, problem_table
from verl_dsdr.toy.convert import question_of, read_jsonl
from verl_dsdr.toy.forms import form_stats, rollout_form_stats
from verl_dsdr.toy.methods import ARMS
from verl_dsdr.toy.plots import band, colours_for, plot_bars, plot_curves, plot_difference_curves
from verl_dsdr.toy.runs import (
    BENCHMARK,
    WARM_START,
    is_finished,
    read_done,
    read_entropies,
    run_dir,
    sample_label,
    warm_start_samples,
)

__all__ = [
    "TRAIN_PANELS",
    "DSDR_PANELS",
    "RunData",
    "series",
    "smooth",
    "rollout_metrics",
    "tail_mean",
    "spread",
    "format_spread",
    "load_runs",
    "collect_results",
    "write_report",
]

TRAIN_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("training reward (mean score)", ("critic/score/mean",)),
    ("policy entropy (actor/entropy)", ("actor/entropy",)),
    ("all-correct groups (fraction)", ("groups/frac_all_correct", "dsdr/frac_all_correct")),
    ("distinct correct forms per group (rollouts)", ("toy/forms_per_group",)),
    ("form entropy of correct rollouts (bits)", ("toy/form_entropy_bits",)),
    ("left-to-right share of a + b * c rollouts", ("toy/mistake_share",)),
    ("mixed groups (fraction)", ("groups/frac_mixed", "dsdr/frac_mixed")),
    ("PPO clip fraction", ("actor/pg_clipfrac",)),
    ("response length (tokens)", ("response_length/mean",)),
)
"""(panel title, metric keys tried in order: DSDR's trainer logs group outcomes under ``dsdr/``;
``toy/`` keys are computed here from verl's rollout dump, see ``rollout_metrics``)."""

DSDR_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("d of correct rollouts (Eq. 9)", ("dsdr/d_correct_mean",)),
    ("semantic D_emb of correct rollouts", ("dsdr/d_emb_correct_mean",)),
    ("formula D_eq of correct rollouts", ("dsdr/d_eq_correct_mean",)),
    ("coupling-weight entropy (Eq. 11)", ("dsdr/coupling_weight_entropy",)),
    ("entropy of correct rollouts (H_hat)", ("dsdr/entropy_correct",)),
    ("local term lambda_l J_local", ("dsdr/local_term",)),
)

TAIL_STEPS = 5
"""Training numbers in the tables are means over the last TAIL_STEPS steps (single steps are noisy)."""
SMOOTH_STEPS = 3
"""Training curves: each seed's series is a trailing mean over SMOOTH_STEPS steps before the band."""


@dataclass
class RunData:
    method: str
    seed: int
    rows: list[dict]
    done: dict
    samples: list[dict] = field(default_factory=list)
    entropies: dict[int, float] = field(default_factory=dict)
    _table: ProblemTable | None = field(default=None, repr=False, compare=False)

    def table(self) -> ProblemTable:
        """Per-problem outcomes of the held-out samples (``toy.compare``), built once per run."""
        if self._table is None:
            self._table = problem_table(self.samples, self.entropies)
        return self._table


def series(rows: Sequence[dict], keys: Sequence[str]) -> tuple[list[int], list[float]]:
    """(steps, values) of the first key in ``keys`` that the rows have (finite values only)."""
    for key in keys:
        pairs = [
            (int(r["step"]), float(r[key]))
            for r in rows
            if r.get("step") is not None and isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))
        ]
        if pairs:
            return [s for s, _ in pairs], [v for _, v in pairs]
    return [], []


def smooth(values: Sequence[float], window: int = SMOOTH_STEPS) -> list[float]:
    """Trailing moving average (the first points average what exists so far)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1) : i + 1]
        out.append(sum(part) / len(part))
    return out


def rollout_metrics(rollout_dir: str | Path) -> dict[int, dict[str, float]]:
    """``{step: {"toy/forms_per_group", "toy/form_entropy_bits", "toy/bare_share", "toy/mistake_share"}}`` from verl's
    training-rollout dump (``<step>.jsonl``); steps whose value is undefined are left out of that key."""
    rollout_dir = Path(rollout_dir)
    out: dict[int, dict[str, float]] = {}
    if not rollout_dir.is_dir():
        return out
    for path in rollout_dir.glob("*.jsonl"):
        if not path.stem.isdigit():
            continue
        rows = read_jsonl(path)
        stats = rollout_form_stats(rows)
        problems = [parse_question(question_of(str(r["input"]))) for r in rows]
        prone = [(p, str(r["output"])) for p, r in zip(problems, rows, strict=True) if mistake_forms(p)]
        out[int(path.stem)] = (
            {"toy/mistake_share": sum(is_mistake(p, t) for p, t in prone) / len(prone)} if prone else {}
        ) | {
            f"toy/{name}": value
            for name, value in (
                ("forms_per_group", stats["forms_per_problem"]),
                ("form_entropy_bits", stats["form_entropy_bits"]),
                ("bare_share", stats["bare_share"]),
            )
            if value is not None
        }
    return out


def tail_mean(values: Sequence[float], n: int = TAIL_STEPS) -> float | None:
    tail = list(values)[-n:]
    return sum(tail) / len(tail) if tail else None


def spread(values: Sequence[float | None]) -> dict | None:
    """Mean, sample std (0 for one seed), min and max of the non-missing values; None if there are none."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(xs), "max": max(xs), "n": len(xs)}


def format_spread(stats: dict | None, scale: float = 1.0, digits: int = 3) -> str:
    """``mean ± std (min–max)``, or ``–`` when missing; one seed prints just the value."""
    if stats is None:
        return "–"
    f = lambda v: f"{v * scale:.{digits}f}"  # noqa: E731
    if stats["n"] == 1:
        return f(stats["mean"])
    return f"{f(stats['mean'])} ± {f(stats['std'])} ({f(stats['min'])}–{f(stats['max'])})"


def load_runs(out: str | Path, methods: Sequence[str], seeds: Sequence[int]) -> list[RunData]:
    """Every finished run of ``methods`` x ``seeds`` (unfinished ones are left out), preceded by the
    warm start's reference samples when a run recorded them (method ``warm_start``, no training rows)."""
    runs = [
        RunData(WARM_START, 0, [], {}, read_jsonl(p), read_entropies(p))
        for p in warm_start_samples(out, list(methods), list(seeds))
    ]
    for method in methods:
        for seed in seeds:
            folder = run_dir(out, method, seed)
            if not is_finished(folder):
                continue
            samples_path = folder / "samples.jsonl"
            samples = read_jsonl(samples_path) if samples_path.exists() else []
            rows = read_metrics(folder / "metrics.jsonl")
            extra = rollout_metrics(folder / "rollouts")
            rows = [r | extra.get(int(r["step"]), {}) if r.get("step") is not None else r for r in rows]
            runs.append(RunData(method, seed, rows, read_done(folder), samples, read_entropies(samples_path)))
    return runs


def _eval_entry(eval_metrics: dict, run: RunData) -> dict | None:
    return (eval_metrics.get(sample_label(run.method, run.seed)) or {}).get(BENCHMARK)


def collect_results(runs: Sequence[RunData], eval_metrics: dict) -> list[dict]:
    """One flat record per run: training tails, evaluation, diversity and solution-form numbers."""
    records = []
    for run in runs:
        entry = _eval_entry(eval_metrics, run) or {}
        diversity = entry.get("diversity") or {}
        passk = entry.get("pass@k") or {}
        k_max = max((int(k) for k in passk), default=None)
        record = {
            "method": run.method,
            "seed": run.seed,
            "train_reward_tail": tail_mean(series(run.rows, ("critic/score/mean",))[1]),
            "entropy_tail": tail_mean(series(run.rows, ("actor/entropy",))[1]),
            "all_correct_tail": tail_mean(series(run.rows, TRAIN_PANELS[2][1])[1]),
            "d_correct_tail": tail_mean(series(run.rows, ("dsdr/d_correct_mean",))[1]),
            "rollout_forms_tail": tail_mean(series(run.rows, ("toy/forms_per_group",))[1]),
            "rollout_form_entropy_tail": tail_mean(series(run.rows, ("toy/form_entropy_bits",))[1]),
            "mean_accuracy": entry.get("mean_accuracy"),
            "pass@1": passk.get("1"),
            "pass@kmax": passk.get(str(k_max)) if k_max else None,
            "k_max": k_max,
            "semantic_dissimilarity": diversity.get("semantic_dissimilarity"),
            "formula_uniqueness": diversity.get("formula_uniqueness"),
            "distinct_solutions": diversity.get("distinct_solutions"),
            **{k: v for k, v in form_stats(run.samples).items() if k != "problems_with_correct"},
            **_table_values(run),
            "wall_s": run.done.get("wall_s"),
            "train_s": run.done.get("train_s"),
            "validation_s": run.done.get("validation_s"),
            "overhead_s": run.done.get("overhead_s"),
            "steps": run.done.get("steps"),
        }
        records.append(record)
    return records


def _table_values(run: RunData) -> dict:
    """The per-problem table's own numbers for one run (exact boxed check, all k)."""
    if not run.samples:
        return {}
    table = run.table()
    mistakes = [is_mistake(parse_question(str(r["problem_id"])), str(r["response"])) for r in run.samples]
    prone = [bool(mistake_forms(parse_question(str(r["problem_id"])))) for r in run.samples]
    return {
        "distinct_correct": method_value([table], "distinct_correct"),
        "entropy_correct": method_value([table], "entropy_correct"),
        "entropy_incorrect": method_value([table], "entropy_incorrect"),
        "mistake_share": sum(m for m, p in zip(mistakes, prone) if p) / max(1, sum(prone)),
    }


COMPARED: tuple[tuple[str, str, float, int], ...] = (
    ("pass@1", "Pass@1 (points)", 100.0, 1),
    ("pass@4", "Pass@4 (points)", 100.0, 1),
    ("pass@16", "Pass@16 (points)", 100.0, 1),
    ("distinct_correct", "distinct correct texts / problem", 1.0, 2),
    ("entropy_correct", "token entropy, correct (nats)", 1.0, 3),
    ("entropy_incorrect", "token entropy, incorrect (nats)", 1.0, 3),
)
"""The paper's claims the toy can measure: accuracy, exploration (pass@k), diversity, entropy."""

DSDR_VARIANTS = ("dsdr", "dsdr_wo_gd", "dsdr_wo_gc")


def comparison_pairs(present: Sequence[str]) -> list[tuple[str, str]]:
    """(a, b) pairs reported as a - b: every method against the warm start, DSDR variants against GRPO and DAPO."""
    pairs = [(m, WARM_START) for m in present if m != WARM_START and WARM_START in present]
    for variant in (m for m in DSDR_VARIANTS if m in present):
        pairs += [(variant, base) for base in ("grpo", "dapo") if base in present]
    return pairs


def _tables_by_seed(runs: Sequence[RunData], method: str, seeds: Sequence[int]) -> dict[int, ProblemTable]:
    """Seed -> table; the warm start (validated once) stands in for every seed it is compared at."""
    if method == WARM_START:
        warm = next((r.table() for r in runs if r.method == WARM_START and r.samples), None)
        return {s: warm for s in seeds} if warm is not None else {}
    return {r.seed: r.table() for r in runs if r.method == method and r.samples}


DEFAULT_RESAMPLES = 4000


def compare_methods(runs: Sequence[RunData], present: Sequence[str], resamples: int = DEFAULT_RESAMPLES) -> dict:
    """``{"a - b": {metric: paired_difference(...)}}`` for every pair of ``comparison_pairs``, every k."""
    seeds = sorted({r.seed for r in runs if r.method != WARM_START})
    n = max((r.table().n for r in runs if r.samples), default=0)
    names = [f"pass@{k}" for k in range(1, n + 1)] + [key for key, *_ in COMPARED if not key.startswith("pass@")]
    out = {}
    for a, b in comparison_pairs(present):
        ta, tb = _tables_by_seed(runs, a, seeds), _tables_by_seed(runs, b, seeds)
        out[f"{a} - {b}"] = {name: paired_difference(ta, tb, name, resamples=resamples) for name in names}
    return out


def _format_interval(entry: dict | None, scale: float, digits: int) -> str:
    if entry is None:
        return "–"
    f = lambda v: f"{v * scale:+.{digits}f}"  # noqa: E731
    return f"{f(entry['diff'])} [{f(entry['low'])}, {f(entry['high'])}]"


def comparison_table(differences: dict, n: int) -> str:
    """Markdown: one row per pair, one column per compared metric, ``diff [95% interval]``."""
    columns = [c for c in COMPARED if not c[0].startswith("pass@") or int(c[0].split("@")[1]) <= n]
    lines = [
        "| difference | " + " | ".join(title for _, title, _, _ in columns) + " |",
        "| --- " * (len(columns) + 1) + "|",
    ]
    for pair, metrics in differences.items():
        a, b = pair.split(" - ")
        cells = [_format_interval(metrics.get(key), scale, digits) for key, _, scale, digits in columns]
        lines.append(f"| {label_of(a)} − {label_of(b)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def value_table(runs: Sequence[RunData], present: Sequence[str], n: int) -> str:
    """Markdown: each method's mean over seeds of the compared metrics, with the per-seed Pass@1."""
    columns = [c for c in COMPARED if not c[0].startswith("pass@") or int(c[0].split("@")[1]) <= n]
    lines = [
        "| Method | seeds | "
        + " | ".join(t.replace(" (points)", " (%)") for _, t, _, _ in columns)
        + " | Pass@1 per seed (%) |",
        "| --- " * (len(columns) + 3) + "|",
    ]
    for method in present:
        tables = [r for r in runs if r.method == method and r.samples]
        if not tables:
            continue
        cells = []
        for key, _, scale, digits in columns:
            value = method_value([r.table() for r in tables], key)
            cells.append("–" if value is None else f"{value * scale:.{digits}f}")
        per_seed = ", ".join(
            _percent(method_value([r.table()], "pass@1")) for r in sorted(tables, key=lambda r: r.seed)
        )
        lines.append(f"| {label_of(method)} | {len(tables)} | " + " | ".join(cells) + f" | {per_seed} |")
    return "\n".join(lines)


RESULT_COLUMNS: tuple[tuple[str, str, float, int], ...] = (
    ("mean_accuracy", "Avg@n (%)", 100.0, 1),
    ("pass@1", "Pass@1 (%)", 100.0, 1),
    ("pass@kmax", "Pass@k_max (%)", 100.0, 1),
    ("train_reward_tail", "train reward, last 5 steps", 1.0, 3),
    ("all_correct_tail", "all-correct groups, last 5", 1.0, 2),
)
DIVERSITY_COLUMNS: tuple[tuple[str, str, float, int], ...] = (
    ("forms_per_problem", "listed forms / problem", 1.0, 2),
    ("form_entropy_bits", "form entropy (bits)", 1.0, 2),
    ("bare_share", "bare-answer share", 1.0, 2),
    ("distinct_solutions", "clusters (eval)", 1.0, 2),
    ("semantic_dissimilarity", "semantic dissim. (eval)", 1.0, 3),
    ("formula_uniqueness", "formula uniq. (eval)", 1.0, 3),
    ("rollout_form_entropy_tail", "rollout form entropy, last 5", 1.0, 2),
    ("entropy_tail", "policy entropy, last 5", 1.0, 3),
)


def _percent(value: float | None) -> str:
    """A fraction in percent with one decimal; ``–`` when it is undefined."""
    return "–" if value is None else f"{100 * value:.1f}"


def label_of(method: str) -> str:
    if method == WARM_START:
        return "warm start (reference)"
    return ARMS[method].label if method in ARMS else method


def _table(records: list[dict], methods: Sequence[str], columns: Sequence[tuple[str, str, float, int]]) -> str:
    header = "| Method | seeds | " + " | ".join(title for _, title, _, _ in columns) + " |"
    lines = [header, "| --- " * (len(columns) + 2) + "|"]
    for method in methods:
        rows = [r for r in records if r["method"] == method]
        if not rows:
            continue
        cells = [format_spread(spread([r[key] for r in rows]), scale, digits) for key, _, scale, digits in columns]
        lines.append(f"| {label_of(method)} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


BAR_PANELS: tuple[tuple[str, str], ...] = (
    ("mean_accuracy", "Avg@n accuracy (held-out)"),
    ("forms_per_problem", "distinct listed forms per problem"),
    ("form_entropy_bits", "form entropy of correct answers (bits)"),
    ("bare_share", "bare-answer share of correct answers"),
    ("distinct_solutions", "embedding clusters of correct answers"),
    ("semantic_dissimilarity", "semantic dissimilarity of correct answers"),
)


def _per_seed(records: list[dict], methods: Sequence[str], key: str) -> dict[str, list[float]]:
    return {m: [r[key] for r in records if r["method"] == m and r[key] is not None] for m in methods}


def _curve_bands(
    runs: Sequence[RunData], methods: Sequence[str], keys: Sequence[str], window: int = SMOOTH_STEPS
) -> dict:
    out = {}
    for method in methods:
        curves = [series(r.rows, keys) for r in runs if r.method == method]
        curves = [(xs, smooth(ys, window)) for xs, ys in curves if xs]
        if curves:
            out[method] = band(curves)
    return out


def _passk_bands(runs: Sequence[RunData], methods: Sequence[str]) -> dict:
    """Method -> band of pass@k for k = 1..n over seeds (per-problem tables, unbiased estimator)."""
    out = {}
    for method in methods:
        curves = []
        for run in (r for r in runs if r.method == method and r.samples):
            table = run.table()
            ks = list(range(1, table.n + 1))
            curves.append((ks, [float(v) for v in table.passk.mean(axis=0)]))
        if curves:
            out[method] = band(curves)
    return out


PASSK_PANEL = "held-out toy problems: pass@k, mean and min-max over seeds"


def _passk_metrics(runs: Sequence[RunData], methods: Sequence[str]) -> dict[str, dict[str, dict]]:
    """The pass@k bands in the ``metrics.json`` structure the evaluation's figure draws: one panel, one entry
    per method label, the mean over seeds with its min-max ``range``."""
    out: dict[str, dict[str, dict]] = {}
    for method, (ks, mean, low, high) in _passk_bands(runs, methods).items():
        keys = [str(int(k)) for k in ks]
        out[label_of(method)] = {
            PASSK_PANEL: {
                "pass@k": dict(zip(keys, mean)),
                "range": {"low": dict(zip(keys, low)), "high": dict(zip(keys, high))},
            }
        }
    return out


def _timing_section(records: list[dict], timing: dict, wall_s: float | None) -> str:
    lines = ["## Cost", ""]
    invocations = timing.get("invocations", [])
    total = sum(i.get("wall_s", 0.0) for i in invocations)
    if wall_s is not None:
        lines.append(
            f"- Wall time of this reproduction (the script, as measured by it): **{wall_s / 60:.1f} min** ({wall_s:.0f} s)."
        )
    if invocations:
        lines.append(
            f"- `run` wall time over {len(invocations)} invocation(s) (training, evaluation): {total / 60:.1f} min; "
            f"evaluation {sum(i.get('eval_s') or 0.0 for i in invocations) / 60:.1f} min of it."
        )
    per_run = [
        (r["wall_s"], r["train_s"], r["validation_s"], r["overhead_s"], r["steps"]) for r in records if r["wall_s"]
    ]
    if per_run:
        n = len(per_run)
        mean = lambda i: sum(p[i] for p in per_run) / n  # noqa: E731
        steps = sum(p[4] for p in per_run)
        lines.append(
            f"- Per run (mean of {n}): {mean(0):.0f} s wall = {mean(1):.0f} s training "
            f"({sum(p[1] for p in per_run) / max(1, steps):.1f} s per step) + {mean(2):.0f} s final validation "
            f"+ {mean(3):.0f} s Ray/worker start-up and shut-down."
        )
    lines.append("- The machine is a shared 2-core CPU: other jobs running at the same time slow every number here.")
    return "\n".join(lines)


def write_provenance(out: Path, command: str, timing: dict, wall_s: float | None) -> Path:
    """``provenance.json``: the commit, command, wall time and dates of the run behind the report."""
    invocations = timing.get("invocations", [])
    record = {
        "command": command,
        "commit": invocations[-1].get("commit") if invocations else None,
        "started": invocations[0].get("started") if invocations else None,
        "finished": invocations[-1].get("finished") if invocations else None,
        "wall_s": wall_s,
        "run_invocations": [
            {k: i.get(k) for k in ("started", "finished", "wall_s", "commit", "trained", "skipped")}
            for i in invocations
        ],
    }
    path = out / "provenance.json"
    path.write_text(json.dumps(record, indent=2))
    return path


def _write_summary_csv(records: list[dict], path: Path) -> Path:
    keys = list(records[0]) if records else ["method", "seed"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(records)
    return path


def write_report(
    out: str | Path,
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    plan: dict,
    command: str,
    timing: dict | None = None,
    wall_s: float | None = None,
) -> dict[str, Path]:
    """Write every report file into ``out``; returns their paths. Fails if no run has finished."""
    out = Path(out)
    runs = load_runs(out, methods, seeds)
    if not any(r.method != WARM_START for r in runs):
        raise FileNotFoundError(f"no finished run under {out / 'runs'}: run `python -m verl_dsdr.toy run` first")
    eval_path = out / "eval" / "metrics.json"
    eval_metrics = json.loads(eval_path.read_text()) if eval_path.exists() else {}
    present = [m for m in [WARM_START, *methods] if any(r.method == m for r in runs)]
    labels = {m: label_of(m) for m in present}
    colours = colours_for(present, reference=WARM_START)
    records = collect_results(runs, eval_metrics)

    paths = {
        "training_curves": plot_curves(
            [(title, _curve_bands(runs, present, keys)) for title, keys in TRAIN_PANELS],
            labels,
            out / "training_curves.png",
            colours=colours,
        ),
        "dsdr_diversity": plot_curves(
            [(title, _curve_bands(runs, present, keys)) for title, keys in DSDR_PANELS],
            labels,
            out / "dsdr_diversity.png",
            colours=colours,
        ),
        "pass_at_k": plot_pass_at_k(
            _passk_metrics(runs, present),
            out / "pass_at_k.png",
            colours={labels[m]: colour for m, colour in colours.items() if m in labels},
        ),
        "eval_diversity": plot_bars(
            [(title, _per_seed(records, present, key)) for key, title in BAR_PANELS],
            labels,
            out / "eval_diversity.png",
            colours=colours,
        ),
        "summary_csv": _write_summary_csv(records, out / "summary.csv"),
    }
    differences = compare_methods(runs, present)
    n_k = max((r.table().n for r in runs if r.samples), default=1)
    paths["pass_at_k_difference"] = plot_difference_curves(
        {
            pair: [m.get(f"pass@{k}") for k in range(1, n_k + 1)]
            for pair, m in differences.items()
            if WARM_START not in pair
        },
        {pair: " − ".join(label_of(x) for x in pair.split(" - ")) for pair in differences},
        out / "pass_at_k_difference.png",
    )
    comparison = out / "comparison.json"
    comparison.write_text(json.dumps(differences, indent=1))
    paths["comparison"] = comparison
    paths["provenance"] = write_provenance(out, command, timing or {}, wall_s)
    missing = [f"{m} seed {s}" for m in methods for s in seeds if not any(r.method == m and r.seed == s for r in runs)]
    trained = [r for r in runs if r.method != WARM_START]
    n_val = next((e.get("samples_per_problem") for r in runs if (e := _eval_entry(eval_metrics, r))), None)
    plan_lines = "\n".join(f"| `{k}` | {v} |" for k, v in plan.items())
    text = f"""# Toy reproduction: DSDR vs GRPO vs DAPO (and DSDR w/o GD, w/o GC)

Generated by `python -m verl_dsdr.toy report`. What the toy can and cannot test:
`docs/TOY_REPRODUCTION.md`. Every number is the mean over seeds, then `± std (min–max)`.

Command: `{command}`

Runs: {len(trained)} finished ({", ".join(labels[m] for m in present if m != WARM_START)}; seeds {sorted({r.seed for r in trained})}).
The *warm start* row is the starting policy itself, validated once with the same sampling before
the first update: every method starts there.
{"Missing (not finished): " + ", ".join(missing) + "." if missing else "None missing."}

## Plan (shared by every method)

| setting | value |
| --- | --- |
{plan_lines}

## The paper's claims, as differences with 95% intervals

Each cell is `a − b` on the held-out problems, the mean over seeds, then `[2.5%, 97.5%]` of a
bootstrap that resamples seeds (paired: the same seed gives both methods the same prompt order),
then held-out problems within each drawn seed ({DEFAULT_RESAMPLES} resamples). Correctness here is
the task's exact boxed check; entropies are the mean token entropy of the final policy on its own
held-out responses (correct ones and incorrect ones separately).

{comparison_table(differences, n_k)}

Values per method (mean over seeds):

{value_table(runs, present, n_k)}

Pass@k for every k: `pass_at_k.png`; the DSDR-minus-baseline difference for every k with its
interval: `pass_at_k_difference.png`; every number: `comparison.json`.

## Held-out evaluation (final policy, {n_val or "?"} samples per problem at T=0.7, top_p 0.9)

{_table(records, present, RESULT_COLUMNS)}

`Pass@k_max`: k = samples per problem. Pass@k for every k: `pass_at_k.png`, and the evaluation
CLI's own outputs in `eval/` (`metrics.json`, `table.md`, one row per run).

## Diversity of correct answers (held-out) and policy entropy

{_table(records, present, DIVERSITY_COLUMNS)}

- *listed forms / problem*: distinct solution forms (`classify_form`) among a problem's correct
  answers; *form entropy*: entropy of the correct answers over the listed forms and "other";
  *bare-answer share*: correct answers that are only `The answer is \\boxed{{r}}.` (mode collapse
  onto the shortest text shows as fewer forms, lower entropy, a higher bare share).
- *clusters*, *semantic dissim.*, *formula uniq.*: the evaluation CLI's diversity of correct
  responses (all-MiniLM-L6-v2 embeddings, average-linkage clusters at cosine 0.9, DSDR's D_emb
  and D_eq among correct answers).

## Figures

Training curves: each seed smoothed with a trailing {SMOOTH_STEPS}-step mean, then the line is the
mean over seeds and the band their min-max. The solution-form panels come from every training
rollout (verl's rollout dump), per GRPO group with a correct rollout.

- Training curves (reward, entropy, group outcomes, solution forms, clip fraction, length):
  ![training curves](training_curves.png)
- DSDR's own diversity signals during training (DSDR variants only):
  ![dsdr diversity](dsdr_diversity.png)
- Pass@k on the held-out problems: ![pass@k](pass_at_k.png)
- Accuracy and diversity of the final policies: ![diversity](eval_diversity.png)

{_timing_section(records, timing or {}, wall_s)}

Per-run numbers: `summary.csv`.
"""
    report = out / "report.md"
    report.write_text(text, encoding="utf-8")
    paths["report"] = report
    return paths
