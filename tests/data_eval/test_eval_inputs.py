"""Eval CLI input validation: every bad row named by file:line (never a traceback), ground truths
that are no answer refused, problem ids normalised."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verl_dsdr.eval import __main__ as eval_cli
from verl_dsdr.eval.samples import SampleError, normalise_problem_id, read_samples

REPO = Path(__file__).resolve().parents[2]
GOOD = {"benchmark": "b", "problem_id": 1, "ground_truth": "1", "response": "\\boxed{1}"}


def run_module(*argv):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "verl_dsdr.eval", *argv, "--no-progress", "--no-diversity", "--workers", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_invalid_utf8_and_bad_ground_truths_are_named_without_traceback(tmp_path):
    path = tmp_path / "s.jsonl"
    lines = [
        json.dumps(GOOD).encode(),
        b'{"benchmark": "b", "problem_id": 2, "ground_truth": "2", "response": "bad \xff\xfe bytes"}',
        b'{"benchmark": "b", "problem_id": 3, "ground_truth": "", "response": "x"}',
        b'{"benchmark": "b", "problem_id": 4, "ground_truth": NaN, "response": "\\\\boxed{nan}"}',
        b'{"benchmark": "b", "problem_id": 5, "ground_truth": "nan", "response": "\\\\boxed{nan}"}',
        b'{"benchmark": "b", "problem_id": 6, "ground_truth": Infinity, "response": "x"}',
        b'{"benchmark": "b", "problem_id": "", "ground_truth": "1", "response": "x"}',
        b'{"benchmark": "b", "problem_id": 8, "ground_truth": "1", "response": "lone \\ud800"}',
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, _, err = run_module("--samples", str(path), "--out", str(tmp_path / "o"))
    assert code == 2 and "Traceback" not in err
    assert "7 bad sample rows" in err and "nothing was scored" in err
    for line, message in [
        (2, "'response' holds invalid UTF-8 or a lone surrogate (U+DCFF"),
        (3, "empty 'ground_truth'"),
        (4, "'ground_truth' is nan (JSON NaN/Infinity)"),
        (5, "'ground_truth' is 'nan'"),
        (6, "'ground_truth' is inf"),
        (7, "empty 'problem_id'"),
        (8, "'response' holds invalid UTF-8 or a lone surrogate (U+D800"),
    ]:
        assert f"{path}:{line}: {message}" in err, (line, err)


def test_many_bad_rows_are_all_listed_in_a_file(tmp_path, capsys):
    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(json.dumps({**GOOD, "problem_id": i, "ground_truth": ""}) + "\n" for i in range(25)), encoding="utf-8"
    )
    out = tmp_path / "o"
    assert eval_cli.main(["--samples", str(path), "--out", str(out), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "25 bad sample rows" in err and err.count("empty 'ground_truth'") == 20
    assert f"... and 5 more (all 25 listed in {out / 'rejected_samples.txt'})" in err
    listed = (out / "rejected_samples.txt").read_text().splitlines()
    assert listed == [f"{path}:{i + 1}: empty 'ground_truth'; every row needs the reference answer" for i in range(25)]


@pytest.mark.parametrize("value", [1, 1.0, " 1", "1 ", "1"])
def test_problem_ids_are_normalised(value):
    assert normalise_problem_id(value) == "1"


def test_equal_problem_ids_are_one_problem(tmp_path):
    path = tmp_path / "ids.jsonl"
    rows = [{**GOOD, "problem_id": pid} for pid in (1, 1.0, " 1")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert {s.problem_id for s in read_samples([path])} == {"1"}
    code, _, err = run_module("--samples", str(path), "--out", str(tmp_path / "o"))
    assert code == 0, err
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["ids"]["b"]["problems"] == 1 and metrics["ids"]["b"]["samples_per_problem"] == 3
    # the ground truths of the three rows must still agree: they are one problem
    rows[2]["ground_truth"] = "2"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SampleError, match="differs from '1'"):
        read_samples([path])


def test_empty_missing_and_folder_inputs(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    for path, message in [
        (empty, "is empty: it has no rows"),
        (tmp_path / "nope.jsonl", "does not exist"),
        (tmp_path, "(it is a folder)"),
    ]:
        code, _, err = run_module("--samples", str(path), "--out", str(tmp_path / "o"))
        assert code == 2 and message in err and "Traceback" not in err, err


def test_time_limit_must_be_positive(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    code = eval_cli.main(
        [
            "--samples",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--workers",
            "1",
            "--no-progress",
            "--no-diversity",
            "--time-limit",
            "0",
        ]
    )
    assert code == 2 and "--time-limit must be > 0 seconds" in capsys.readouterr().err


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_file_given_twice_is_refused(tmp_path, capsys):
    """Today `--samples a.jsonl a.jsonl` exited 0 with every n doubled."""
    path = _write(tmp_path / "a.jsonl", [GOOD, {**GOOD, "problem_id": 2}])
    copy = _write(tmp_path / "copy.jsonl", [GOOD, {**GOOD, "problem_id": 2}])
    for second, message in [(path, "is given twice"), (copy, f"is a copy of {path}")]:
        argv = ["--samples", str(path), str(second), "--out", str(tmp_path / "o"), "--workers", "1"]
        assert eval_cli.main([*argv, "--no-progress", "--no-diversity"]) == 2
        err = capsys.readouterr().err
        assert f"samples file {second} {message}" in err and "counted twice" in err
    assert not (tmp_path / "o").exists()


def test_a_repeated_sample_index_is_refused_naming_both_rows(tmp_path, capsys):
    rows = [{**GOOD, "sample_index": i} for i in (0, 1)]
    path = _write(tmp_path / "s.jsonl", rows + rows)  # a problem's block written twice
    code = eval_cli.main(["--samples", str(path), "--out", str(tmp_path / "o"), "--no-progress", "--no-diversity"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{path}:3: repeats {path}:1: sample_index 0 of (method, benchmark, problem_id) = ('s', 'b', '1')" in err
    assert f"{path}:4: repeats {path}:2" in err and "Traceback" not in err
    # the same index in two files of one method is a repeat too
    other = _write(tmp_path / "t.jsonl", [{**GOOD, "method": "s", "sample_index": 1, "response": "x"}])
    with pytest.raises(SampleError, match=f"{other}:1: repeats {path}:2"):
        read_samples([_write(path, rows), other])


def test_rows_without_sample_index_are_numbered_per_problem(tmp_path):
    path = _write(tmp_path / "s.jsonl", [GOOD, {**GOOD, "problem_id": 2}, GOOD, {**GOOD, "sample_index": 5}])
    assert [(s.problem_id, s.sample_index) for s in read_samples([path])] == [("1", 0), ("2", 0), ("1", 1), ("1", 5)]
    with pytest.raises(SampleError, match="'sample_index' must be an integer >= 0"):
        read_samples([_write(path, [{**GOOD, "sample_index": -1}])])
