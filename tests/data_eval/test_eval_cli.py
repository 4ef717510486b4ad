"""The eval CLI end to end on fixture samples whose correctness is known; every number checked by hand."""

import csv
import json

import numpy as np
import pytest

from verl_dsdr.eval import __main__ as eval_cli
from verl_dsdr.eval import diversity

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

R1, R2, R3 = "Use $x+1$ then \\boxed{4}", "Use $x+1$ and $y$ then \\boxed{4}", "Use $z$ then \\boxed{4}"
R4, R5 = "\\boxed{7}", "We get $7$. \\boxed{7}"
HALF = "So \\boxed{\\frac{1}{2}}"
EMBEDDINGS = {
    R1: [1, 0, 0],
    R2: [1, 0, 0],
    R3: [0, 1, 0],
    R4: [1, 0, 0],
    R5: [0.6, 0.8, 0],
    HALF: [0, 0, 1],
    "\\boxed{9}": [0, 1, 0],
}


def rows(benchmark, problem_id, ground_truth, responses, method=None):
    out = []
    for response in responses:
        row = {"benchmark": benchmark, "problem_id": problem_id, "ground_truth": ground_truth, "response": response}
        if method is not None:
            row["method"] = method
        out.append(row)
    return out


def write_jsonl(path, items):
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


@pytest.fixture
def fake_embedder(monkeypatch):
    """Replace the sentence encoder by the hand-set table above (the CLI asks diversity.make_encoder)."""
    seen = {}

    def make_encoder(model=None, **kwargs):
        seen["model"], seen["kwargs"] = model, kwargs
        return lambda texts: np.array([EMBEDDINGS[t] for t in texts], dtype=np.float32)

    monkeypatch.setattr(diversity, "make_encoder", make_encoder)
    return seen


@pytest.fixture
def sample_files(tmp_path):
    dsdr = write_jsonl(
        tmp_path / "dsdr.jsonl",  # no "method" key: the method is the file stem
        rows("aime24", 1, "4", [R1, R2, R3, "\\boxed{5}"])  # c = 3 of 4
        + rows("aime24", 2, "7", [R4, "\\boxed{8}", R5, "no idea"])  # c = 2 of 4
        + rows("aime24", 3, "9", ["\\boxed{9}", "\\boxed{1}", "\\boxed{2}", "\\boxed{3}"])  # c = 1 of 4
        + rows("math500", "q1", "\\frac{1}{2}", [HALF, "\\boxed{2}", HALF, "\\boxed{3}"])  # c = 2 of 4
        + rows("math500", "q2", "10", ["\\boxed{11}", "\\boxed{12}", "x", "y"]),  # c = 0 of 4
    )
    grpo = write_jsonl(
        tmp_path / "run2.jsonl",
        rows("aime24", 1, "4", [R1, "\\boxed{5}"], method="grpo")  # c = 1 of 2
        + rows("aime24", 2, "7", ["a", "b", "c"], method="grpo")  # c = 0 of 3
        + rows("aime24", 3, "9", ["\\boxed{9}", "\\boxed{9}"], method="grpo"),  # c = 2 of 2
    )
    return dsdr, grpo


def test_eval_cli_every_number(tmp_path, sample_files, fake_embedder, capsys):
    out = tmp_path / "out"
    code = eval_cli.main(
        [
            "--samples",
            *map(str, sample_files),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
            "--embedder-model",
            "my-encoder",
            "--cluster-threshold",
            "0.9",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    # unequal samples: one plain line naming the problems and their counts, not a Python warning
    unequal = [line for line in captured.err.splitlines() if "unequal" in line]
    assert unequal == [
        "warning: grpo/aime24: unequal samples per problem: n = 2 for 2 of 3 problems, other n for 1 (2=3); "
        "pass@k uses each problem's own n and k <= 2"
    ]
    assert "UnequalSamplesWarning" not in captured.err
    assert fake_embedder["model"] == "my-encoder"
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["dsdr", "grpo"]
    assert list(metrics["dsdr"]) == ["aime24", "math500"]

    a = metrics["dsdr"]["aime24"]
    assert (a["problems"], a["samples_per_problem"], a["unequal_sample_counts"]) == (3, 4, {})
    assert a["mean_accuracy"] == pytest.approx(6 / 12)
    # pass@2: p1 n-c = 1 < 2 -> 1; p2 1 - C(2,2)/C(4,2) = 5/6; p3 1 - C(3,2)/C(4,2) = 1/2 -> mean 7/9
    # pass@3: p1 1; p2 1 - C(2,3)/C(4,3) = 1; p3 1 - C(3,3)/C(4,3) = 3/4 -> mean 11/12 (every k = 1..n)
    assert a["pass@k"] == pytest.approx({"1": 0.5, "2": 7 / 9, "3": 11 / 12, "4": 1.0})
    # diversity: p1 D_emb (0.25, 0.25, 0.5) -> 1/3, D_eq (0, 1/3, 1/2) -> 5/18, 2 clusters;
    #            p2 D_emb 0.2, D_eq 0, 2 clusters (cos 0.6 < 0.9); p3 has one correct: skipped
    d = a["diversity"]
    assert d["problems_with_2plus_correct"] == 2
    assert d["semantic_dissimilarity"] == pytest.approx((1 / 3 + 0.2) / 2, abs=1e-6)
    assert d["formula_uniqueness"] == pytest.approx(5 / 36, abs=1e-6)
    assert d["distinct_solutions"] == pytest.approx(2.0)
    assert d["cluster_threshold"] == 0.9

    m = metrics["dsdr"]["math500"]
    assert (m["problems"], m["samples_per_problem"]) == (2, 4)
    assert m["mean_accuracy"] == pytest.approx(2 / 8)
    # pass@2: q1 1 - C(2,2)/C(4,2) = 5/6, q2 0 -> 5/12; pass@4: q1 1, q2 0 -> 1/2
    assert m["pass@k"] == pytest.approx({"1": 0.25, "2": 5 / 12, "3": 0.5, "4": 0.5})
    # q1: two identical correct responses -> no dissimilarity, no unique formula, one cluster
    assert m["diversity"]["problems_with_2plus_correct"] == 1
    assert m["diversity"]["semantic_dissimilarity"] == pytest.approx(0.0, abs=1e-6)
    assert m["diversity"]["formula_uniqueness"] == pytest.approx(0.0)
    assert m["diversity"]["distinct_solutions"] == pytest.approx(1.0)

    g = metrics["grpo"]["aime24"]
    assert g["problems"] == 3
    assert g["samples_per_problem"] == 2  # the minimum of 2, 3, 2
    assert g["unequal_sample_counts"] == {"1": 2, "2": 3, "3": 2}
    assert g["mean_accuracy"] == pytest.approx(3 / 7)  # pooled: (1 + 0 + 2) / (2 + 3 + 2)
    # each problem's own n: pass@1 = mean(1/2, 0, 1) = 1/2; pass@2 = mean(1, 0, 1) = 2/3; k stops at min n = 2
    assert g["pass@k"] == pytest.approx({"1": 0.5, "2": 2 / 3})
    assert g["diversity"]["problems_with_2plus_correct"] == 1
    assert g["diversity"]["distinct_solutions"] == pytest.approx(1.0)

    with (out / "metrics.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["method"], r["benchmark"]) for r in table] == [
        ("dsdr", "aime24"),
        ("dsdr", "math500"),
        ("grpo", "aime24"),
    ]
    assert float(table[0]["pass@2"]) == pytest.approx(7 / 9)
    assert table[2]["pass@4"] == ""  # grpo has k <= 2 only
    assert float(table[1]["diversity_distinct_solutions"]) == 1.0

    md = (out / "table.md").read_text()
    # Methods without a pass1/avg16 pair get one Avg@n cell per benchmark and their sample count n;
    # ± the SE over problems: dsdr AIME24 c/n (3/4, 2/4, 1/4) -> 14.4; MATH500 (2/4, 0) -> 25.0;
    # Avg. sqrt(14.43^2 + 25^2) / 2 = 14.4; grpo (1/2, 0, 1) -> 28.9
    assert "| Method | n | AIME24 (3) | MATH500 (2) | Avg. |" in md
    assert "| dsdr | 4 | 50.0 ± 14.4 | 25.0 ± 25.0 | 37.5 ± 14.4 |" in md
    assert "| grpo | 2–3 | 50.0 ± 28.9 | – | – |" in md  # no MATH500, so no average
    assert md in captured.out


def test_pass_at_k_png_is_valid(tmp_path, sample_files):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    out = tmp_path / "o"
    code = eval_cli.main(
        ["--samples", str(sample_files[0]), "--out", str(out), "--workers", "1", "--no-progress", "--no-diversity"]
    )
    assert code == 0
    png = out / "pass_at_k.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    image = mpimg.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 200
    assert image.std() > 0  # not a blank canvas
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dsdr"]["aime24"]["diversity"] is None


def test_worker_pool_scores_like_sequential(tmp_path, sample_files):
    from verl_dsdr.eval.grading import score_samples
    from verl_dsdr.eval.samples import read_samples

    samples = read_samples([sample_files[1]])
    sequential = score_samples(samples, workers=1, progress=False)
    assert sequential == [True, False, False, False, False, True, True]
    assert score_samples(samples, workers=2, progress=False, chunksize=2) == sequential


@pytest.mark.parametrize(
    "line, message",
    [
        ({"benchmark": "b", "problem_id": 1, "ground_truth": "1"}, "missing key(s) ['response']"),
        ({"benchmark": "b", "problem_id": 1, "ground_truth": "1", "response": None}, "'response' must be a string"),
        (
            {"benchmark": "b", "problem_id": [1], "ground_truth": "1", "response": "x"},
            "'problem_id' must be a string or",
        ),
        ("not an object", "expected a JSON object"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, capsys, line, message):
    good = {"benchmark": "b", "problem_id": 1, "ground_truth": "1", "response": "\\boxed{1}"}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, line])
    code = eval_cli.main(["--samples", str(path), "--out", str(tmp_path / "o"), "--workers", "1", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and message in err


def test_inconsistent_ground_truth_and_invalid_json(tmp_path, capsys):
    path = write_jsonl(tmp_path / "gt.jsonl", rows("b", 1, "1", ["x"]) + rows("b", 1, "2", ["y"]))
    assert eval_cli.main(["--samples", str(path), "--out", str(tmp_path), "--workers", "1", "--no-progress"]) == 2
    assert f"{path}:2: ground_truth '2' differs from '1' at {path}:1" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"benchmark": "b"\n', encoding="utf-8")
    assert eval_cli.main(["--samples", str(broken), "--out", str(tmp_path), "--workers", "1", "--no-progress"]) == 2
    assert f"{broken}:1: not valid JSON" in capsys.readouterr().err


def test_real_default_embedder_on_tiny_input(tmp_path):
    """The default sentence encoder (loaded once, a few seconds): identical correct responses are one
    solution at distance 0; two different ones are farther apart than that."""
    pytest.importorskip("sentence_transformers")
    same = "We add 2 and 2 to get $2+2=4$, so the answer is \\boxed{4}."
    other = "Counting on fingers from two, three, four: the final result is \\boxed{4}."
    path = write_jsonl(
        tmp_path / "real.jsonl", rows("aime24", 0, "4", [same, same]) + rows("aime24", 1, "4", [same, other])
    )
    out = tmp_path / "o"
    assert (
        eval_cli.main(
            [
                "--samples",
                str(path),
                "--out",
                str(out),
                "--workers",
                "1",
                "--no-progress",
                "--embedder-device",
                "cpu",
                "--cluster-threshold",
                "0.99",
            ]
        )
        == 0
    )
    d = json.loads((out / "metrics.json").read_text())["real"]["aime24"]["diversity"]
    assert d["problems_with_2plus_correct"] == 2
    # problem 0: distance 0, formulas shared, 1 cluster; problem 1: distance s in (0, 1], 2 clusters at 0.99
    assert 0.0 < d["semantic_dissimilarity"] <= 0.5
    assert d["distinct_solutions"] == pytest.approx(1.5)
    # D_eq: problem 0 -> 0 (identical sets); problem 1: `same` = {2+2=4, 4} has 1 of 2 unique -> 1/2,
    # `other` = {4} -> 0, problem mean 1/4; over the two problems (0 + 1/4) / 2 = 1/8
    assert d["formula_uniqueness"] == pytest.approx(1 / 8)


def test_bad_embedder_option_fails_before_scoring(tmp_path, capsys):
    path = write_jsonl(tmp_path / "s.jsonl", rows("aime24", 0, "4", ["\\boxed{4}"]))
    code = eval_cli.main(
        [
            "--samples",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--embedder-model",
            str(tmp_path / "no-such-model"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot load the embedder" in err and "--no-diversity" in err
    assert not (tmp_path / "o").exists()
