"""Data CLI input handling: bad rows named (never a traceback), custom data, paths vs hub ids,
hub splits, CSV and gzip, and no silent overwrite."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from verl_dsdr.data import normalize_answer
from verl_dsdr.data.__main__ import main
from verl_dsdr.data.answers import AnswerError

REPO = Path(__file__).resolve().parents[2]


def run_cli(capsys, *argv):
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_module(*argv, cwd=None):
    """The CLI as a user runs it: a subprocess, so a traceback would show in stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "verl_dsdr.data", *argv, "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_out(path):
    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize(
    "value, reason",
    [
        (float("nan"), "NaN"),
        (float("inf"), "infinite"),
        (True, "boolean"),
        ({"value": 5}, "object (keys: value)"),
        ([None, "", 7], "list item 0 is empty"),
        (["1", ""], "list item 1 is empty"),
        ("nan", "'nan'"),
        ("5\udc80", "lone surrogate"),
        (b"5", "bytes"),
    ],
)
def test_values_that_are_no_answer_are_refused(value, reason):
    with pytest.raises(AnswerError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        normalize_answer(value)


def test_bad_rows_are_named_with_reasons_and_no_traceback(tmp_path):
    src = tmp_path / "bad.jsonl"
    lines = [
        b'{"problem": "ok", "answer": "1"}',
        b'{"problem": "nan answer", "answer": NaN}',
        b'{"problem": "inf answer", "answer": Infinity}',
        b'{"problem": "bool answer", "answer": true}',
        b'{"problem": "dict answer", "answer": {"value": 5}}',
        b'{"problem": "list answer", "answer": [null, "", 7]}',
        b'{"problem": "bad \xff\xfe utf-8", "answer": "2"}',
        b'{"problem": "lone \\ud800 surrogate", "answer": "3"}',
        b'{"problem": "empty list", "answer": []}',
        b"not json at all",
    ]
    src.write_bytes(b"\n".join(lines) + b"\n")
    code, _, err = run_module("aime24", "--input", str(src), "--out", str(tmp_path / "o"), "--max-errors", "20")
    assert code == 2 and "Traceback" not in err
    for row, reason in [
        (1, "the answer is NaN"),
        (2, "infinite"),
        (3, "boolean (True)"),
        (4, "--answer-column COLUMN.FIELD"),
        (5, "list item 0 is empty"),
        (6, "invalid UTF-8 or a lone surrogate (U+DCFF"),
        (7, "invalid UTF-8 or a lone surrogate (U+D800"),
        (8, "empty answer"),
        (9, "line 10: not valid JSON"),
    ]:
        assert f"row {row}: " in err and reason in err, (row, reason, err)
    assert "fix the file's encoding" in err and "--skip-bad" in err
    assert not (tmp_path / "o" / "aime24.parquet").exists()

    code, out, err = run_module("aime24", "--input", str(src), "--out", str(tmp_path / "o"), "--skip-bad")
    assert code == 0 and "Traceback" not in err
    assert [c.strip() for c in out.splitlines()[-1].split("|")[:5]] == ["aime24", "10", "1", "0", "9"]
    assert "dropped bad row 6: the problem holds invalid UTF-8" in err
    assert [r["reward_model"]["ground_truth"] for r in read_out(tmp_path / "o" / "aime24.parquet")] == ["1"]


def test_every_dropped_row_is_named_in_a_file_when_there_are_many(tmp_path, capsys):
    rows = [{"problem": f"p{i}", "answer": "" if i % 2 else str(i)} for i in range(24)]  # 12 bad rows
    src = write_jsonl(tmp_path / "many.jsonl", rows)
    code, _, err = run_cli(
        capsys, "math500", "--input", str(src), "--out", str(tmp_path), "--skip-bad", "--max-errors", "3"
    )
    assert code == 0
    assert err.count("dropped bad row") == 3
    rejected = tmp_path / "math500.rejected.jsonl"
    assert f"dropped 12 bad rows in all; every one is listed in {rejected}" in err
    listed = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [r["row"] for r in listed] == list(range(1, 24, 2))
    assert listed[-1] == {"row": 23, "reason": "empty answer", "input": {"problem": "p23", "answer": ""}}
    # refusing (no --skip-bad) names the file as well
    code, _, err = run_cli(capsys, "math500", "--input", str(src), "--out", str(tmp_path / "r"), "--max-errors", "3")
    assert code == 2 and "... and 9 more (all listed in" in err and (tmp_path / "r" / "math500.rejected.jsonl").exists()


def test_empty_file_is_reported_as_empty(tmp_path):
    for name in ("empty.jsonl", "empty.csv", "empty.json"):
        src = tmp_path / name
        src.write_text("" if name != "empty.json" else "[]", encoding="utf-8")
        code, _, err = run_module("math500", "--input", str(src), "--out", str(tmp_path / "o"))
        assert code == 2 and "is empty: it has no rows" in err and "Traceback" not in err, err


def test_problem_ids_are_normalised(tmp_path, capsys):
    rows = [
        {"id": 1, "problem": "A", "answer": "1"},
        {"id": 1.0, "problem": "B", "answer": "2"},
        {"id": " 1", "problem": "C", "answer": "3"},
        {"id": 2.0, "problem": "D", "answer": "4"},
    ]
    src = write_jsonl(tmp_path / "ids.jsonl", rows)
    code, _, err = run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path))
    assert code == 2
    assert "row 1: duplicate id '1' (first at row 0)" in err and "row 2: duplicate id '1' (first at row 0)" in err
    assert run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path), "--skip-bad")[0] == 0
    assert [r["extra_info"]["id"] for r in read_out(tmp_path / "aime24.parquet")] == ["1", "2"]


def test_custom_kind_names_its_data(tmp_path, capsys):
    src = write_jsonl(tmp_path / "my.jsonl", [{"question": "Compute 1 + 6.", "answer": 7}])
    code, _, _ = run_cli(
        capsys, "custom", "--input", str(src), "--out", str(tmp_path / "D"), "--name", "arith", "--prompt-style", "raw"
    )
    assert code == 0
    (row,) = read_out(tmp_path / "D" / "arith.parquet")
    assert row["data_source"] == "arith" and row["extra_info"]["split"] == "test"
    assert row["prompt"][0]["content"] == "Compute 1 + 6." and row["reward_model"]["ground_truth"] == "7"
    assert sorted(p.name for p in (tmp_path / "D").iterdir()) == ["arith.parquet"]
    code, _, _ = run_cli(
        capsys, "custom", "--input", str(src), "--out", str(tmp_path / "T"), "--name", "mine", "--split", "train"
    )
    assert code == 0 and read_out(tmp_path / "T" / "mine.parquet")[0]["extra_info"]["split"] == "train"

    code, _, err = run_cli(capsys, "custom", "--input", str(src), "--out", str(tmp_path))
    assert code == 2 and "custom data needs --name NAME" in err
    code, _, err = run_cli(capsys, "custom", "--input", str(src), "--out", str(tmp_path), "--name", "../x")
    assert code == 2 and "--name '../x'" in err
    code, _, err = run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path), "--name", "x")
    assert code == 2 and "--name only goes with 'custom'" in err


def test_existing_output_is_kept_unless_overwrite(tmp_path, capsys):
    src = write_jsonl(tmp_path / "a.jsonl", [{"problem": "A", "answer": "1"}])
    assert run_cli(capsys, "aime25", "--input", str(src), "--out", str(tmp_path))[0] == 0
    write_jsonl(src, [{"problem": "A", "answer": "2"}])
    code, _, err = run_cli(capsys, "aime25", "--input", str(src), "--out", str(tmp_path))
    assert code == 2 and "aime25.parquet exists; pass --overwrite" in err
    assert read_out(tmp_path / "aime25.parquet")[0]["reward_model"]["ground_truth"] == "1"
    assert run_cli(capsys, "aime25", "--input", str(src), "--out", str(tmp_path), "--overwrite")[0] == 0
    assert read_out(tmp_path / "aime25.parquet")[0]["reward_model"]["ground_truth"] == "2"


def test_a_missing_local_path_is_not_taken_for_a_hub_id(tmp_path, capsys, monkeypatch):
    import datasets

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub must not be asked")

    monkeypatch.setattr(datasets, "load_dataset", no_hub)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "aime_2024.jsonl").write_text('{"problem": "A", "answer": "1"}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for source, why in [
        ("raw/aime_2024", "its folder raw exists here"),  # a mistyped path without its extension
        ("./aime.jsonl", "it is a path"),
        ("aime.parquet", "it ends in .parquet"),
        ("a/b/c", "it is no hub id"),
    ]:
        code, _, err = run_cli(capsys, "aime24", "--input", source, "--out", "o")
        assert code == 2 and f"does not exist ({why}, so it is not taken for a hub dataset id)" in err


def test_missing_path_message(tmp_path, capsys, monkeypatch):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "aime_2024.jsonl").write_text('{"problem": "A", "answer": "1"}\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "aime24", "--input", "raw/aime_2024", "--out", "o")
    assert code == 2
    assert "input file raw/aime_2024 does not exist (its folder raw exists here" in err
    assert "Did you mean raw/aime_2024.jsonl?" in err
    code, _, err = run_cli(capsys, "aime24", "--input", "raw", "--out", "o")
    assert code == 2 and "is a folder" in err


class FakeSplit:
    def __init__(self, rows):
        self.rows = rows

    def to_list(self):
        return self.rows


@pytest.mark.parametrize(
    "dataset, splits, chosen",
    [
        ("aime24", ["train"], "train"),  # HuggingFaceH4/aime_2024 has only train
        ("math500", ["test"], "test"),  # HuggingFaceH4/MATH-500 has only test
        ("minerva", ["train", "test"], "test"),  # benchmarks prefer test
        ("dapo_math_17k", ["train", "test"], "train"),
    ],
)
def test_hub_split_defaults_to_the_datasets_real_split(tmp_path, capsys, monkeypatch, dataset, splits, chosen):
    import datasets

    calls = []

    def fake_load(name, config=None, split=None):
        calls.append((name, config, split))
        return {s: FakeSplit([{"problem": f"from {s}", "answer": "1"}]) for s in splits}

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    code, out, err = run_cli(capsys, dataset, "--input", "org/name", "--out", str(tmp_path))
    assert code == 0, err
    assert calls == [("org/name", None, None)]
    assert f"rows from org/name [split {chosen}]" in err
    stem = "train" if dataset == "dapo_math_17k" else dataset
    assert read_out(tmp_path / f"{stem}.parquet")[0]["extra_info"]["question"] == f"from {chosen}"


def test_hub_split_ambiguous_asks_for_one(tmp_path, capsys, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: {"dev": FakeSplit([]), "val": FakeSplit([])})
    code, _, err = run_cli(capsys, "aime24", "--input", "org/name", "--out", str(tmp_path))
    assert code == 2 and "has splits ['dev', 'val']; choose one with --hf-split" in err


def test_csv_and_gzipped_json_lines(tmp_path, capsys):
    csv_path = tmp_path / "bench.csv"
    csv_path.write_text('id,problem,answer\n1,"What is 1, plus 1?",2\n2,Q2,"$\\frac{1}{2}$"\n3,Q3\n', encoding="utf-8")
    code, _, err = run_cli(capsys, "math500", "--input", str(csv_path), "--out", str(tmp_path / "c"), "--skip-bad")
    assert code == 0
    assert "dropped bad row 2: line 4: the number of fields differs from the header's 3" in err
    got = read_out(tmp_path / "c" / "math500.parquet")
    assert [(r["extra_info"]["question"], r["reward_model"]["ground_truth"]) for r in got] == [
        ("What is 1, plus 1?", "2"),
        ("Q2", "\\frac{1}{2}"),
    ]
    for name in ("bench.jsonl.gz", "bench.csv.gz", "bench.json.gz"):
        path = tmp_path / name
        if name.startswith("bench.csv"):
            payload = "problem,answer\nG1,5\n"
        elif ".jsonl" in name:
            payload = '{"problem": "G1", "answer": 5}\n'
        else:
            payload = '[{"problem": "G1", "answer": 5}]'
        path.write_bytes(gzip.compress(payload.encode()))
        code, _, err = run_cli(capsys, "minerva", "--input", str(path), "--out", str(tmp_path / f"out-{name}"))
        assert code == 0, err
        assert read_out(tmp_path / f"out-{name}" / "minerva.parquet")[0]["reward_model"]["ground_truth"] == "5"


def test_unreadable_files_give_a_message_not_a_traceback(tmp_path):
    broken_gz = tmp_path / "broken.jsonl.gz"
    broken_gz.write_bytes(b"not gzip at all")
    broken_parquet = tmp_path / "broken.parquet"
    broken_parquet.write_bytes(b"PAR1 garbage")
    other = tmp_path / "data.xlsx"
    other.write_bytes(b"x")
    for path, message in [
        (broken_gz, "cannot read it as .jsonl.gz"),
        (broken_parquet, "cannot read it as .parquet"),
        (other, "unsupported file type '.xlsx'"),
    ]:
        code, _, err = run_module("aime24", "--input", str(path), "--out", str(tmp_path / "o"))
        assert code == 2 and message in err and "Traceback" not in err, err
