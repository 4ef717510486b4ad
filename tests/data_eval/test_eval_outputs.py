"""What the evaluator writes beside metrics.json: standard errors, provenance, per-sample verdicts, the paper's
Pass@1 / Avg@16 table, distinguishable Pass@k curves and a diversity progress bar. Numbers checked by hand."""

import hashlib
import json
import math
import statistics
from datetime import datetime
from importlib import metadata

import numpy as np
import pytest

from verl_dsdr.eval import __main__ as eval_cli
from verl_dsdr.eval import diversity
from verl_dsdr.eval.metrics import mean_stderr, ratio_stderr
from verl_dsdr.eval.plots import method_styles
from verl_dsdr.eval.report import markdown_table, split_protocol

R1, R2, R3 = "Use $x+1$ then \\boxed{4}", "Use $x+1$ and $y$ then \\boxed{4}", "Use $z$ then \\boxed{4}"
R4, R5 = "\\boxed{7}", "We get $7$. \\boxed{7}"
EMBEDDINGS = {R1: [1, 0, 0], R2: [1, 0, 0], R3: [0, 1, 0], R4: [1, 0, 0], R5: [0.6, 0.8, 0], "\\boxed{9}": [0, 1, 0]}


def rows(benchmark, problem_id, ground_truth, responses, **extra):
    return [
        {"benchmark": benchmark, "problem_id": problem_id, "ground_truth": ground_truth, "response": r, **extra}
        for r in responses
    ]


def write_jsonl(path, items):
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


@pytest.fixture
def fake_embedder(monkeypatch):
    monkeypatch.setattr(
        diversity,
        "make_encoder",
        lambda model=None, **kw: lambda texts: np.array([EMBEDDINGS[t] for t in texts], dtype=np.float32),
    )


@pytest.fixture
def dsdr_file(tmp_path):
    return write_jsonl(
        tmp_path / "dsdr.jsonl",
        rows("aime24", 1, "4", [R1, R2, R3, "\\boxed{5}"])  # c = 3 of 4
        + rows("aime24", 2, "7", [R4, "\\boxed{8}", R5, "no idea"])  # c = 2 of 4
        + rows("aime24", 3, "9", ["\\boxed{9}", "\\boxed{1}", "\\boxed{2}", "\\boxed{3}"]),  # c = 1 of 4
    )


def evaluate(out, *files, extra=()):
    argv = ["--samples", *map(str, files), "--out", str(out), "--workers", "1", "--no-progress", *extra]
    assert eval_cli.main(argv) == 0
    return json.loads((out / "metrics.json").read_text())


def test_standard_error_formulas_by_hand():
    assert mean_stderr([0.75, 0.5, 0.25]) == pytest.approx(0.25 / math.sqrt(3))  # s = 0.25
    assert mean_stderr([0.5]) is None and mean_stderr([]) is None
    # equal n: the clustered ratio SE is the SE of the per-problem accuracies
    assert ratio_stderr([(4, 3), (4, 2), (4, 1)]) == pytest.approx(0.25 / math.sqrt(3))
    # n = 2, 3, 2 with c = 1, 0, 2: p = 3/7; residuals 1/7, -9/7, 8/7; sqrt(146/49 / 6) / (7/3)
    assert ratio_stderr([(2, 1), (3, 0), (2, 2)]) == pytest.approx(math.sqrt(146 / 49 / 6) / (7 / 3))
    assert ratio_stderr([(4, 1)]) is None


def test_metrics_carry_standard_errors(tmp_path, dsdr_file, fake_embedder):
    a = evaluate(tmp_path / "o", dsdr_file)["dsdr"]["aime24"]
    se = a["stderr"]
    assert se["mean_accuracy"] == pytest.approx(0.25 / math.sqrt(3))
    assert se["pass@k"]["1"] == pytest.approx(0.25 / math.sqrt(3))
    # pass@2 per problem: 1, 5/6, 1/2; pass@4: 1, 1, 1 (no spread)
    assert se["pass@k"]["2"] == pytest.approx(statistics.stdev([1, 5 / 6, 1 / 2]) / math.sqrt(3))
    assert se["pass@k"]["4"] == pytest.approx(0.0)
    d = a["diversity"]
    # per problem D_emb: p1 1/3, p2 0.2; D_eq: p1 5/18, p2 0; clusters 2, 2 (p3 has one correct response)
    assert d["stderr"]["semantic_dissimilarity"] == pytest.approx(
        statistics.stdev([1 / 3, 0.2]) / math.sqrt(2), abs=1e-6
    )
    assert d["stderr"]["formula_uniqueness"] == pytest.approx(statistics.stdev([5 / 18, 0]) / math.sqrt(2), abs=1e-6)
    assert d["stderr"]["distinct_solutions"] == pytest.approx(0.0)
    csv_text = (tmp_path / "o" / "metrics.csv").read_text().splitlines()
    header, row = csv_text[0].split(","), csv_text[1].split(",")
    assert float(row[header.index("pass@1_stderr")]) == pytest.approx(0.25 / math.sqrt(3))
    assert float(row[header.index("mean_accuracy_stderr")]) == pytest.approx(0.25 / math.sqrt(3))


def test_provenance(tmp_path, dsdr_file):
    sampling = {"protocol": "avg16", "n": 2, "temperature": 0.7, "top_p": 0.9, "max_tokens": 64, "seed": 0}
    other = write_jsonl(tmp_path / "grpo.jsonl", rows("aime24", 1, "4", [R1, "x"], method="grpo", sampling=sampling))
    out = tmp_path / "o"
    evaluate(out, dsdr_file, other, extra=["--no-diversity", "--time-limit", "1.5"])
    p = json.loads((out / "provenance.json").read_text())
    assert [i["sha256"] for i in p["inputs"]] == [
        hashlib.sha256(f.read_bytes()).hexdigest() for f in (dsdr_file, other)
    ]
    assert [i["rows"] for i in p["inputs"]] == [12, 2]
    assert p["sampling"] == {"dsdr": None, "grpo": sampling}
    assert p["verifier"]["time_limit_s"] == 1.5 and p["verifier"]["workers"] == 1
    assert p["verifier"]["function"] == "verl_dsdr.scoring.correctness.score_correctness"
    assert p["embedder"] is None and p["options"]["diversity"] is False
    assert p["packages"]["math-verify"] == metadata.version("math-verify")
    assert p["packages"]["verl-dsdr"] == metadata.version("verl-dsdr")
    assert p["packages"]["verl"] == "0.9.1" and p["packages"]["torch"] == metadata.version("torch")
    assert datetime.fromisoformat(p["date"]).tzinfo is not None
    assert p["command"][:3] == ["python", "-m", "verl_dsdr.eval"] and "--time-limit" in p["command"]


def test_provenance_names_the_embedder(tmp_path, dsdr_file, fake_embedder):
    out = tmp_path / "o"
    evaluate(out, dsdr_file, extra=["--embedder-max-tokens", "128"])
    embedder = json.loads((out / "provenance.json").read_text())["embedder"]
    assert embedder["model"] == "all-MiniLM-L6-v2" and embedder["max_tokens"] == 128
    assert embedder["checked_against"].startswith("sentence-transformers/all-MiniLM-L6-v2@")


def test_one_method_with_two_sampling_settings_is_refused(tmp_path, capsys):
    a = write_jsonl(tmp_path / "a.jsonl", rows("aime24", 1, "4", [R1], method="m", sampling={"n": 1}))
    b = write_jsonl(tmp_path / "b.jsonl", rows("aime24", 2, "7", [R4], method="m", sampling={"n": 16}))
    code = eval_cli.main(
        ["--samples", str(a), str(b), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress", "--no-diversity"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"{b}:1: method 'm' was sampled with" in err and f"at {a}:1" in err and "--method" in err


def test_log_samples_writes_per_sample_verdicts(tmp_path, dsdr_file):
    out = tmp_path / "o"
    evaluate(out, dsdr_file, extra=["--no-diversity", "--log_samples"])
    logged = [json.loads(line) for line in (out / "samples_dsdr_aime24.jsonl").read_text().splitlines()]
    assert len(logged) == 12
    assert logged[0] == {
        "method": "dsdr",
        "benchmark": "aime24",
        "problem_id": "1",
        "sample_index": 0,
        "prompt_hash": None,  # the fixture rows record none; generate's rows do
        "response": R1,
        "extracted_answer": "4",
        "ground_truth": "4",
        "correct": True,
        "source": f"{dsdr_file}:1",
    }
    assert [r["sample_index"] for r in logged[4:8]] == [0, 1, 2, 3]
    assert [r["correct"] for r in logged[4:8]] == [True, False, True, False]
    assert logged[7]["extracted_answer"] is None  # "no idea": nothing to extract
    assert logged[5]["extracted_answer"] == "8"
    evaluate(tmp_path / "o2", dsdr_file, extra=["--no-diversity"])  # opt-in: nothing without the flag
    assert not list((tmp_path / "o2").glob("samples_*.jsonl"))


def test_table_pairs_pass1_and_avg16_as_the_paper(tmp_path):
    # pass1: one sample per problem, from the sampling record; avg16: named by suffix (no record)
    pass1 = write_jsonl(
        tmp_path / "p.jsonl",
        rows("aime24", 1, "4", [R1], method="dsdr", sampling={"protocol": "pass1"})
        + rows("aime24", 2, "7", ["x"], method="dsdr", sampling={"protocol": "pass1"}),
    )
    avg16 = write_jsonl(
        tmp_path / "a.jsonl",
        rows("aime24", 1, "4", [R1, R2, "x", "y"], method="dsdr-avg16")
        + rows("aime24", 2, "7", [R4, "z", "z", "z"], method="dsdr-avg16"),
    )
    grpo = write_jsonl(
        tmp_path / "g.jsonl",
        rows("aime24", 1, "4", ["x"], method="grpo-avg16") + rows("aime24", 2, "7", [R4], method="grpo-avg16"),
    )
    out = tmp_path / "o"
    evaluate(out, pass1, avg16, grpo, extra=["--no-diversity"])
    md = (out / "table.md").read_text()
    assert "| Method | AIME24 (2) | Avg. |" in md
    # Pass@1 = 1/2 ± 0.5/sqrt(2)... SE of (1, 0) = 0.5; Avg@16 = mean(2/4, 1/4) ± SE of (0.5, 0.25) = 0.125
    assert "| dsdr | 50.0 ± 50.0 / 37.5 ± 12.5 | 50.0 ± 50.0 / 37.5 ± 12.5 |" in md
    assert "| grpo | – / 50.0 ± 50.0 | – / 50.0 ± 50.0 |" in md  # no pass1 samples for grpo
    assert "Cells: Pass@1 / Avg@1–4 in %" in md  # the n actually sampled (4 for dsdr, 1 for grpo), not a fixed 16
    # every row can be found in metrics.json under the methods it joins
    assert "dsdr = `dsdr` (pass1) + `dsdr-avg16` (avg16); grpo = `grpo-avg16` (avg16)" in md
    assert "**Warning:** AIME24: 2 problems evaluated, the standard set has 30" in md


def test_table_without_protocols_shows_one_number_per_cell():
    entry = {"pass@k": {"1": 0.25}, "samples_per_problem": 4, "unequal_sample_counts": {}, "problems": 30}
    full = {**entry, "problems": 500, "stderr": {"pass@k": {"1": 0.03}}}
    uneven = {"pass@k": {"1": 0.5}, "samples_per_problem": 2, "unequal_sample_counts": {"a": 2, "b": 3}, "problems": 2}
    md = markdown_table({"a": {"aime24": entry, "math500": full}, "b": {"aime24": uneven}})
    assert "| Method | n | AIME24 (2–30) | MATH500 (500) | Avg. |" in md
    assert "| a | 4 | 25.0 | 25.0 ± 3.0 | 25.0 |" in md  # no SE for AIME24 in the entry: none for Avg.
    assert "| b | 2–3 | 50.0 | – | – |" in md
    assert "**Warning:** AIME24: 2–30 problems evaluated, the standard set has 30" in md
    assert "MATH500" not in md.split("**Warning:**", 1)[1]  # 500 is its standard size


def test_table_counts_problems_and_gives_standard_errors(tmp_path, dsdr_file):
    """Today's table hid its size: a 3-problem AIME24 looked like the full 30, and no cell had a ±."""
    out = tmp_path / "o"
    evaluate(out, dsdr_file, extra=["--no-diversity"])
    md = (out / "table.md").read_text()
    se = 100 * statistics.stdev([3 / 4, 2 / 4, 1 / 4]) / math.sqrt(3)  # per-problem c/n: 14.4
    assert "| Method | n | AIME24 (3) | Avg. |" in md
    assert f"| dsdr | 4 | 50.0 ± {se:.1f} | 50.0 ± {se:.1f} |" in md
    assert "**Warning:** AIME24: 3 problems evaluated, the standard set has 30" in md


def test_avg_standard_error_combines_the_benchmarks():
    a = {"pass@k": {"1": 0.5}, "samples_per_problem": 4, "unequal_sample_counts": {}, "problems": 30}
    b = {"pass@k": {"1": 0.3}, "samples_per_problem": 4, "unequal_sample_counts": {}, "problems": 30}
    a["stderr"], b["stderr"] = {"pass@k": {"1": 0.03}}, {"pass@k": {"1": 0.04}}
    md = markdown_table({"m": {"aime24": a, "aime25": b}})
    assert "| m | 4 | 50.0 ± 3.0 | 30.0 ± 4.0 | 40.0 ± 2.5 |" in md  # sqrt(3^2 + 4^2) / 2 = 2.5
    assert "Warning" not in md  # both have their standard 30 problems


@pytest.mark.parametrize(
    "methods, protocols, message",
    [
        (["model-pass1", "model-avg16", "model"], {}, "label 'model' is used both unpaired"),
        (["model", "model-pass1"], {"model": "pass1"}, "'model' and 'model-pass1' are both the pass1 samples"),
    ],
)
def test_a_label_used_paired_and_unpaired_is_refused(tmp_path, capsys, methods, protocols, message):
    """Today: two `model` rows in table.md, while metrics.json keeps other names."""
    items = []
    for method in methods:
        record = {"protocol": protocols[method]} if method in protocols else None
        extra = {"method": method, **({"sampling": record} if record else {})}
        items += rows("aime24", 1, "4", [R1], **extra)
    path = write_jsonl(tmp_path / "s.jsonl", items)
    argv = ["--samples", str(path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"]
    assert eval_cli.main([*argv, "--no-diversity"]) == 2
    err = capsys.readouterr().err
    assert message in err and "rename" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "metrics.json").exists()  # refused before scoring


def test_provenance_has_commit_and_model_hash(tmp_path, dsdr_file):
    """Today provenance.json had neither the code's commit nor the model's weights hash."""
    record = {"protocol": None, "n": 1, "model": "/ckpt/m", "model_sha256": "ab" * 32}
    other = write_jsonl(tmp_path / "m.jsonl", rows("aime24", 1, "4", [R1], method="m", sampling=record))
    out = tmp_path / "o"
    evaluate(out, dsdr_file, other, extra=["--no-diversity"])
    p = json.loads((out / "provenance.json").read_text())
    assert p["models"] == {"dsdr": None, "m": {"model": "/ckpt/m", "weights_sha256": "ab" * 32}}
    from verl_dsdr.eval.provenance import git_commit

    commit = p["code"]["commit"]
    assert commit == git_commit()["commit"]
    assert commit == "not a git checkout" or len(commit) == 40


def test_git_commit_outside_a_checkout(monkeypatch):
    from verl_dsdr.eval import provenance

    monkeypatch.setattr(provenance.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(FileNotFoundError()))
    assert provenance.git_commit() == {"commit": "not a git checkout", "dirty": None}


def test_weights_sha256_covers_names_and_bytes(tmp_path):
    from verl_dsdr.eval.provenance import weights_sha256

    (tmp_path / "config.json").write_text("{}")
    assert weights_sha256(tmp_path) is None  # no weight file
    (tmp_path / "model.safetensors").write_bytes(b"\x00\x01")
    first = weights_sha256(tmp_path)
    (tmp_path / "config.json").write_text('{"a": 1}')
    assert weights_sha256(tmp_path) == first  # only the weights count
    (tmp_path / "model.safetensors").write_bytes(b"\x00\x02")
    assert weights_sha256(tmp_path) != first


def test_split_protocol():
    assert split_protocol("dsdr-avg16") == ("dsdr", "avg16")
    assert split_protocol("dsdr-step120", "pass1") == ("dsdr-step120", "pass1")
    assert split_protocol("dsdr-pass1", "avg16") == ("dsdr-pass1", "avg16")  # the record wins over the name
    assert split_protocol("dsdr") == ("dsdr", None)


def test_overlapping_curves_get_distinct_styles():
    styles = method_styles(["a", "b", "c"], ["r", "g", "b"])
    assert len({s["marker"] for s in styles.values()}) == 3
    assert len({s["linestyle"] for s in styles.values()}) == 3
    shifts = [s["shift"] for s in styles.values()]
    assert shifts == pytest.approx([-0.06, 0.0, 0.06])  # centred on k, a small fraction of an octave
    assert styles["a"]["zorder"] > styles["b"]["zorder"] > styles["c"]["zorder"]
    assert method_styles(["only"], ["r"])["only"]["shift"] == 0.0


def test_diversity_phase_has_a_progress_bar(tmp_path, dsdr_file, fake_embedder, capsys):
    out = tmp_path / "o"
    assert eval_cli.main(["--samples", str(dsdr_file), "--out", str(out), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "scoring" in err and "diversity" in err and "2/2" in err  # two problems with 2+ correct responses


def _entry(values, problems=30):
    return {
        "pass@k": {str(k): v for k, v in enumerate(values, start=1)},
        "stderr": {"pass@k": {str(k): 0.0 for k in range(1, len(values) + 1)}},
        "problems": problems,
        "samples_per_problem": len(values),
        "unequal_sample_counts": {},
    }


def test_pass_at_k_figure_leaves_out_pass1_points_and_starts_at_zero():
    import matplotlib.pyplot as plt

    from verl_dsdr.eval.plots import pass_at_k_figure

    metrics = {
        "dsdr-pass1": {"aime24": _entry([0.5])},
        "dsdr-avg16": {"aime24": _entry([0.1 * k for k in range(1, 5)])},
        "zero-avg16": {"aime24": _entry([0.0] * 4)},
        "p": {"aime24": _entry([0.0])},
    }
    fig = pass_at_k_figure(metrics, {"p": "pass1"})
    try:
        ax = fig.axes[0]
        labels = ax.get_legend_handles_labels()[1]
        assert labels == ["dsdr-avg16", "zero-avg16"]  # the metrics.json names; no single pass1 points
        assert ax.get_ylim()[0] == pytest.approx(-0.02 * 40 * 1.08) and ax.get_ylim()[1] == pytest.approx(40 * 1.08)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    finally:
        plt.close(fig)
    fig = pass_at_k_figure({"zero": {"aime24": _entry([0.0, 0.0])}})
    try:
        low, high = fig.axes[0].get_ylim()
        assert (low, high) == pytest.approx((-0.02, 1.0))  # an all-zero panel: 0..1 %, not -0.04..0.04 %
    finally:
        plt.close(fig)


def test_pass_at_k_figure_draws_a_range_as_uneven_bars_and_takes_given_colours():
    """The toy's held-out figure: mean over seeds with its min-max range (not a standard error)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from verl_dsdr.eval.plots import pass_at_k_figure

    entry = {
        "pass@k": {"1": 0.5, "2": 0.6},
        "range": {"low": {"1": 0.4, "2": 0.55}, "high": {"1": 0.7, "2": 0.62}},
    }
    fig = pass_at_k_figure({"DSDR": {"held-out": entry}}, colours={"DSDR": "#2ca02c", "absent": "#000000"})
    try:
        ax = fig.axes[0]
        line = ax.get_lines()[0]
        assert to_hex(line.get_color()) == "#2ca02c"
        # top of the highest bar: 70 % (k = 1's max over seeds), times the 8 % margin
        assert ax.get_ylim()[1] == pytest.approx(70 * 1.08)
        segments = [seg for coll in ax.collections for seg in coll.get_segments()]
        spans = sorted((round(seg[0][1], 6), round(seg[1][1], 6)) for seg in segments)
        assert spans == [(40.0, 70.0), (55.0, 62.0)]  # 50 -10/+20 at k = 1, 60 -5/+2 at k = 2
    finally:
        plt.close(fig)
