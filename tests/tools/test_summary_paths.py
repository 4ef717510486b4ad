"""The summary finds verl's default file-logger output and fails on a missing log with a message, not a traceback."""

import json
from pathlib import Path

from verl_dsdr.summary import main, summary_path, verl_file_logger_path


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"step": s, "data": d}) + "\n" for s, d in rows))


def test_verl_default_path_rules(tmp_path):
    # Same rule as verl's FileLogger: VERL_FILE_LOGGER_PATH, else ROOT/<project>/<experiment>.jsonl, ROOT default ".".
    assert verl_file_logger_path("p", "e", {}) == Path("p") / "e.jsonl"
    assert verl_file_logger_path("p", "e", {"VERL_FILE_LOGGER_ROOT": str(tmp_path)}) == tmp_path / "p" / "e.jsonl"
    explicit = {"VERL_FILE_LOGGER_PATH": str(tmp_path / "x.jsonl"), "VERL_FILE_LOGGER_ROOT": "/elsewhere"}
    assert verl_file_logger_path("p", "e", explicit) == tmp_path / "x.jsonl"
    assert verl_file_logger_path(environ={}).as_posix() == "verl_examples/gsm8k.jsonl"  # verl's config defaults


def test_no_argument_reads_verls_default_file(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VERL_FILE_LOGGER_PATH", raising=False)
    monkeypatch.setenv("VERL_FILE_LOGGER_ROOT", str(tmp_path))
    log = tmp_path / "my_project" / "run-7.jsonl"
    _write(
        log,
        [
            (1, {"actor/grad_norm": 1.0, "critic/score/mean": 0.5}),
            (2, {"actor/grad_norm": 1.0, "critic/score/mean": 0.75}),
        ],
    )
    assert main(["--project-name", "my_project", "--experiment-name", "run-7"]) == 0
    written = json.loads((tmp_path / "my_project" / "run-7.summary.json").read_text())
    assert written["steps"] == 2 and written["mean_reward"] == 0.625
    assert written["metrics_file"] == str(log)
    assert str(log) in capsys.readouterr().out


def test_a_jsonl_file_argument(tmp_path):
    log = tmp_path / "exp.jsonl"
    _write(log, [(1, {"actor/grad_norm": 2.0, "critic/score/mean": 1.0})])
    assert main([str(log)]) == 0
    assert json.loads(summary_path(log).read_text())["grad_norm_mean"] == 2.0
    assert summary_path(tmp_path / "metrics.jsonl") == tmp_path / "summary.json"


def test_missing_or_cut_log_exits_2_with_a_message(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "metrics.jsonl") in err and "Traceback" not in err
    assert main([str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl not found" in capsys.readouterr().err
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "data": {}}\n[1, 2]\n')
    assert main([str(tmp_path)]) == 2
    assert "metrics.jsonl:2: expected a JSON object" in capsys.readouterr().err
