"""Preprocessing: column recognition for every dataset, normalisation, dedup counts, bad rows, verl's reader."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from verl_dsdr.data import DAPO_INSTRUCTION, normalize_answer
from verl_dsdr.data.__main__ import main

DAPO_WRAP = DAPO_INSTRUCTION.format(problem="{}")


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def read_out(path):
    return pq.read_table(path).to_pylist()


def run_cli(capsys, *argv):
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "value, expected",
    [
        ("  42 ", "42"),
        (33, "33"),
        (5.0, "5"),
        (2.5, "2.5"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("$$x^2$$", "x^2"),
        ("\\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),
        ("so the answer is $\\boxed{\\{1, 2\\}}$.", "\\{1, 2\\}"),
        (["$7$"], "7"),
        (["1", "2"], "1, 2"),
        ("5\\$", "5\\$"),
        (None, ""),
        ([], ""),
    ],
)
def test_normalize_answer(value, expected):
    assert normalize_answer(value) == expected


def released_dapo_row(problem, answer, uid):
    return {
        "data_source": "math_dapo",
        "prompt": [{"role": "user", "content": DAPO_WRAP.format(problem)}],
        "ability": "MATH",
        "reward_model": {"ground_truth": answer, "style": "rule-lighteval/MATH_v2"},
        "extra_info": {"index": uid},
    }


def test_dapo_released_shape_dedup_counts(tmp_path, capsys):
    # A x3 (one copy with extra whitespace), B x2, C x1: 6 rows in, 3 kept, 3 duplicates dropped.
    rows = [
        released_dapo_row("Find A.", "1", "u1"),
        released_dapo_row("Find B.", "2", "u2"),
        released_dapo_row("Find  A.", "1", "u3"),
        released_dapo_row("Find C.", "3", "u4"),
        released_dapo_row("Find B.", "2", "u5"),
        released_dapo_row("Find A.", "1", "u6"),
    ]
    src = write_parquet(tmp_path / "dapo.parquet", rows)
    code, out, _ = run_cli(capsys, "dapo_math_17k", "--input", str(src), "--out", str(tmp_path / "out"))
    assert code == 0
    summary = out.splitlines()[-1].split("|")
    assert [c.strip() for c in summary[:5]] == ["dapo_math_17k", "6", "3", "3", "0"]
    got = read_out(tmp_path / "out" / "train.parquet")
    assert [r["extra_info"]["question"] for r in got] == ["Find A.", "Find B.", "Find C."]
    assert [r["extra_info"]["index"] for r in got] == [0, 1, 2]
    assert [r["extra_info"]["id"] for r in got] == ["u1", "u2", "u4"]
    first = got[0]
    assert first["data_source"] == "math_dapo" and first["ability"] == "math"
    assert first["prompt"] == [{"role": "user", "content": DAPO_WRAP.format("Find A.")}]
    assert first["reward_model"] == {"style": "rule", "ground_truth": "1"}
    assert first["extra_info"]["split"] == "train" and first["extra_info"]["answer"] == "1"


def test_dapo_processed_shape_and_boxed_style(tmp_path, capsys):
    rows = [
        {
            "prompt": "What is 2+2?",
            "solution": "4",
            "data_source": "math_dapo",
            "source_prompt": [],
            "ability": "MATH",
            "reward_model": {"ground_truth": "4", "style": "rule"},
            "extra_info": {"index": "x1"},
        },
        {
            "prompt": "What is 3+3?",
            "solution": "6",
            "data_source": "math_dapo",
            "source_prompt": [],
            "ability": "MATH",
            "reward_model": {"ground_truth": "6", "style": "rule"},
            "extra_info": {"index": "x2"},
        },
    ]
    src = write_jsonl(tmp_path / "processed.jsonl", rows)
    code, _, err = run_cli(
        capsys, "dapo_math_17k", "--input", str(src), "--out", str(tmp_path), "--prompt-style", "boxed"
    )
    assert code == 0
    assert "problem='prompt' answer='solution'" in err
    got = read_out(tmp_path / "train.parquet")
    assert got[1]["prompt"][0]["content"] == (
        "What is 3+3?\n\nPlease reason step by step, and put your final answer within \\boxed{}."
    )
    assert got[1]["data_source"] == "math17k_boxed"
    assert got[1]["reward_model"]["ground_truth"] == "6"


def test_dapo_conflicting_duplicate_keeps_first_and_warns(tmp_path, capsys):
    rows = [released_dapo_row("Find A.", "1", "u1"), released_dapo_row("Find A.", "2", "u2")]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    code, _, err = run_cli(capsys, "dapo_math_17k", "--input", str(src), "--out", str(tmp_path))
    assert code == 0
    assert "row 1 repeats the problem of row 0 with another answer" in err
    assert [r["reward_model"]["ground_truth"] for r in read_out(tmp_path / "train.parquet")] == ["1"]


def test_aime24_hf_style(tmp_path, capsys):
    rows = [
        {"id": 60, "problem": "P60", "solution": "long \\boxed{33}", "answer": "33", "url": "u", "year": 2024},
        {"id": 61, "problem": "P61", "solution": "...", "answer": "$\\frac{1}{2}$", "url": "u", "year": 2024},
        {"id": 62, "problem": "P62", "solution": "...", "answer": 204, "url": "u", "year": 2024},
    ]
    src = write_jsonl(tmp_path / "aime24.jsonl", rows)
    assert run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path))[0] == 0
    got = read_out(tmp_path / "aime24.parquet")
    assert [r["reward_model"]["ground_truth"] for r in got] == ["33", "\\frac{1}{2}", "204"]
    assert [r["extra_info"]["id"] for r in got] == ["60", "61", "62"]
    assert {r["data_source"] for r in got} == {"aime24"}
    assert got[0]["extra_info"]["split"] == "test"
    assert got[0]["prompt"][0]["content"].startswith("P60\n\n") and "\\boxed{}" in got[0]["prompt"][0]["content"]


def test_aime25_capitalised_columns_json_array(tmp_path, capsys):
    rows = [{"ID": "2025-I-1", "Problem": "Q1", "Answer": "70"}, {"ID": "2025-I-2", "Problem": "Q2", "Answer": "588"}]
    src = tmp_path / "aime25.json"
    src.write_text(json.dumps(rows), encoding="utf-8")
    assert run_cli(capsys, "aime25", "--input", str(src), "--out", str(tmp_path))[0] == 0
    got = read_out(tmp_path / "aime25.parquet")
    assert [(r["extra_info"]["id"], r["reward_model"]["ground_truth"], r["data_source"]) for r in got] == [
        ("2025-I-1", "70", "aime25"),
        ("2025-I-2", "588", "aime25"),
    ]


def test_math500_parquet(tmp_path, capsys):
    rows = [
        {
            "problem": "M1",
            "solution": "... \\boxed{\\sqrt{2}}",
            "answer": "\\sqrt{2}",
            "subject": "Algebra",
            "level": 3,
            "unique_id": "test/algebra/1.json",
        },
        {
            "problem": "M2",
            "solution": "...",
            "answer": "(3, \\frac{\\pi}{2})",
            "subject": "Precalculus",
            "level": 2,
            "unique_id": "test/precalculus/807.json",
        },
    ]
    src = write_parquet(tmp_path / "math500.parquet", rows)
    assert run_cli(capsys, "math500", "--input", str(src), "--out", str(tmp_path / "o"))[0] == 0
    got = read_out(tmp_path / "o" / "math500.parquet")
    assert [r["reward_model"]["ground_truth"] for r in got] == ["\\sqrt{2}", "(3, \\frac{\\pi}{2})"]
    assert [r["extra_info"]["id"] for r in got] == ["test/algebra/1.json", "test/precalculus/807.json"]


def test_minerva_question_answer_without_ids(tmp_path, capsys):
    rows = [{"question": "Mq1", "answer": "$4.5$"}, {"question": "Mq2", "answer": "0.3"}]
    src = write_jsonl(tmp_path / "minerva.jsonl", rows)
    code, _, err = run_cli(capsys, "minerva", "--input", str(src), "--out", str(tmp_path))
    assert code == 0 and "id=None" in err
    got = read_out(tmp_path / "minerva.parquet")
    assert [(r["extra_info"]["question"], r["reward_model"]["ground_truth"], r["extra_info"]["id"]) for r in got] == [
        ("Mq1", "4.5", ""),
        ("Mq2", "0.3", ""),
    ]


def test_minerva_worked_solution_needs_a_box(tmp_path, capsys):
    rows = [{"problem": "S1", "solution": "Thus $\\boxed{3.5}$."}, {"problem": "S2", "solution": "no box here"}]
    src = write_jsonl(tmp_path / "minerva.jsonl", rows)
    code, _, err = run_cli(capsys, "minerva", "--input", str(src), "--out", str(tmp_path))
    assert code == 2
    assert "row 1: worked solution in 'solution' has no \\boxed{} answer" in err
    code, _, _ = run_cli(capsys, "minerva", "--input", str(src), "--out", str(tmp_path), "--skip-bad")
    assert code == 0
    assert [r["reward_model"]["ground_truth"] for r in read_out(tmp_path / "minerva.parquet")] == ["3.5"]


def test_olympiadbench_list_answers(tmp_path, capsys):
    rows = [
        {
            "id": 1606,
            "question": "O1",
            "solution": ["..."],
            "final_answer": ["$\\frac{1}{2}$"],
            "is_multiple_answer": False,
        },
        {"id": 1607, "question": "O2", "solution": ["..."], "final_answer": ["$1$", "$2$"], "is_multiple_answer": True},
    ]
    src = write_parquet(tmp_path / "ob.parquet", rows)
    assert run_cli(capsys, "olympiadbench", "--input", str(src), "--out", str(tmp_path))[0] == 0
    got = read_out(tmp_path / "olympiadbench.parquet")
    assert [r["reward_model"]["ground_truth"] for r in got] == ["\\frac{1}{2}", "1, 2"]
    assert [r["data_source"] for r in got] == ["olympiadbench", "olympiadbench"]
    assert [r["extra_info"]["id"] for r in got] == ["1606", "1607"]


def test_bad_rows_reported_with_row_numbers_then_skipped(tmp_path, capsys):
    rows = [
        {"id": "a", "problem": "ok 1", "answer": "1"},
        {"id": "b", "problem": "empty answer", "answer": "  "},
        {"id": "c", "problem": "", "answer": "3"},
        {"id": "a", "problem": "another problem, same id", "answer": "4"},
        {"id": "d", "problem": "ok 1", "answer": "1"},  # duplicate problem: dropped, not bad
        {"id": "e", "problem": "ok 2", "answer": "$ $"},
        {"id": "f", "problem": "ok 3", "answer": "6"},
    ]
    src = write_jsonl(tmp_path / "aime24.jsonl", rows)
    code, _, err = run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path), "--max-errors", "3")
    assert code == 2
    assert "4 bad row(s)" in err
    assert "row 1: empty answer" in err and "row 2: empty problem" in err
    assert "row 3: duplicate id 'a' (first at row 0)" in err
    assert "... and 1 more" in err and "--skip-bad" in err
    assert not (tmp_path / "aime24.parquet").exists()

    code, out, err = run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path), "--skip-bad")
    assert code == 0
    # 7 in = 2 kept + 1 duplicate + 4 bad
    assert [c.strip() for c in out.splitlines()[-1].split("|")[:5]] == ["aime24", "7", "2", "1", "4"]
    assert "dropped bad row 5: empty answer" in err
    assert [r["extra_info"]["question"] for r in read_out(tmp_path / "aime24.parquet")] == ["ok 1", "ok 3"]


def test_missing_column_names_found_columns_and_option(tmp_path, capsys):
    src = write_jsonl(tmp_path / "x.jsonl", [{"text": "q", "label": "1"}])
    code, _, err = run_cli(capsys, "math500", "--input", str(src), "--out", str(tmp_path))
    assert code == 2
    assert "no problem column" in err and "['label', 'text']" in err and "--problem-column" in err
    code, _, err = run_cli(capsys, "math500", "--input", str(src), "--out", str(tmp_path), "--problem-column", "text")
    assert code == 2 and "no answer column" in err and "--answer-column" in err
    code, _, _ = run_cli(
        capsys,
        "math500",
        "--input",
        str(src),
        "--out",
        str(tmp_path),
        "--problem-column",
        "text",
        "--answer-column",
        "label",
    )
    assert code == 0
    assert read_out(tmp_path / "math500.parquet")[0]["reward_model"]["ground_truth"] == "1"
    code, _, err = run_cli(
        capsys,
        "math500",
        "--input",
        str(src),
        "--out",
        str(tmp_path),
        "--problem-column",
        "text",
        "--answer-column",
        "label",
        "--id-column",
        "nope",
        "--overwrite",
    )
    assert code == 2 and "--id-column 'nope': no such column" in err


def test_malformed_jsonl_line_is_named(tmp_path, capsys):
    src = tmp_path / "broken.jsonl"
    src.write_text('{"problem": "a", "answer": "1"}\n{"problem": "b", \n', encoding="utf-8")
    code, _, err = run_cli(capsys, "aime24", "--input", str(src), "--out", str(tmp_path))
    assert code == 2 and "row 1: line 2: not valid JSON" in err


def test_hub_name_offline_gives_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, _, err = run_cli(capsys, "math500", "--input", "nobody/no-such-dataset-xyz", "--out", str(tmp_path))
    assert code == 2
    assert "could not load 'nobody/no-such-dataset-xyz'" in err and "--input PATH" in err


def test_help_lists_datasets(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("dapo_math_17k", "aime24", "aime25", "math500", "minerva", "olympiadbench"):
        assert name in out


def test_files_load_and_concatenate_like_verl(tmp_path, capsys):
    """verl reads each file with datasets' parquet loader and concatenates validation files."""
    datasets = pytest.importorskip("datasets")
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "problem": "A", "answer": "1"}])
    m = write_jsonl(tmp_path / "m.jsonl", [{"question": "M", "answer": "2"}])
    assert run_cli(capsys, "aime24", "--input", str(a), "--out", str(tmp_path))[0] == 0
    assert run_cli(capsys, "minerva", "--input", str(m), "--out", str(tmp_path))[0] == 0
    parts = [
        datasets.load_dataset("parquet", data_files=str(tmp_path / f"{n}.parquet"), cache_dir=str(tmp_path / "c"))[
            "train"
        ]
        for n in ("aime24", "minerva")
    ]
    both = datasets.concatenate_datasets(parts)
    assert both["data_source"] == ["aime24", "minerva"]
    assert both[1]["extra_info"]["index"] == 0 and both[1]["prompt"][0]["role"] == "user"


def test_raw_prompt_style_keeps_the_problem_text():
    from verl_dsdr.data.schema import render_prompt

    assert render_prompt("Compute 1 + 6. Put the final answer in \\boxed{}.", "raw") == (
        "Compute 1 + 6. Put the final answer in \\boxed{}."
    )
    with pytest.raises(ValueError, match="raw"):
        render_prompt("x", "plain")
