"""The run summary read from verl's file-logger jsonl."""

import json

import pytest

from verl_dsdr.summary import main, render, summarize


def _write(run_dir, rows):
    with open(run_dir / "metrics.jsonl", "w") as f:
        for step, data in rows:
            f.write(json.dumps({"step": step, "data": data}) + "\n")


def test_summary_by_hand(tmp_path):
    _write(
        tmp_path,
        [
            (
                1,
                {
                    "actor/grad_norm": 0.5,
                    "critic/score/mean": 0.25,
                    "groups/frac_all_correct": 0.5,
                    "groups/frac_all_wrong": 0.25,
                    "groups/frac_mixed": 0.25,
                    "timing_s/step": 30.0,
                    "dsdr/d_mean": 0.2,
                },
            ),
            (
                2,
                {
                    "actor/grad_norm": 0.7,
                    "critic/score/mean": 0.75,
                    "groups/frac_all_correct": 0.0,
                    "groups/frac_all_wrong": 0.5,
                    "groups/frac_mixed": 0.5,
                    "timing_s/step": 3.0,
                    "dsdr/d_mean": 0.4,
                },
            ),
            (2, {"val-core/x/acc/mean@1": 0.1}),  # validation rows are not training steps
        ],
    )
    s = summarize(tmp_path)
    assert s["steps"] == 2
    assert s["mean_reward"] == pytest.approx(0.5)
    assert s["frac_all_correct_groups"] == pytest.approx(0.25)
    assert s["frac_mixed_groups"] == pytest.approx(0.375)
    assert s["first_step_s"] == 30.0 and s["later_step_s_mean"] == 3.0
    assert s["dsdr"] == {"dsdr/d_mean": pytest.approx(0.3)}
    text = render(s, wall_s=12.0)
    assert "dsdr/d_mean" in text and "wall time" in text


def test_cli_writes_summary_json_and_fails_on_empty_runs(tmp_path, capsys):
    _write(tmp_path, [(1, {"actor/grad_norm": 1.0, "critic/score/mean": 1.0})])
    assert main([str(tmp_path)]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "metrics.jsonl").write_text("")
    assert main([str(empty)]) == 1


def test_missing_or_corrupt_log_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="VERL_FILE_LOGGER_PATH"):
        summarize(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "data": {}}\n{"step": 2, "da')
    with pytest.raises(ValueError, match="metrics.jsonl:2"):
        summarize(tmp_path)
