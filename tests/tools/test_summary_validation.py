"""The summary's validation curves: verl's val-core/ metrics per validation step, one column per benchmark."""

import json

import pytest

from verl_dsdr.summary import main, summarize, validation_curves


def _write(run_dir, rows):
    with open(run_dir / "metrics.jsonl", "w") as f:
        for step, data in rows:
            f.write(json.dumps({"step": step, "data": data}) + "\n")


ROWS = [
    (0, {"val-core/aime24/acc/mean@16": 0.1, "val-core/verl_dsdr/arith/acc/mean@16": 0.5, "val-aux/x/acc/std@16": 9}),
    (1, {"actor/grad_norm": 1.0, "critic/score/mean": 0.5}),
    (
        2,
        {
            "actor/grad_norm": 1.0,
            "critic/score/mean": 0.6,
            "val-core/aime24/acc/mean@16": 0.2,
            "val-core/verl_dsdr/arith/acc/mean@16": 0.625,
            "val-core/aime24/acc/maj@16/mean": 0.3,
        },
    ),
]


def test_validation_curves_by_step_and_benchmark(tmp_path):
    """Today the summary printed nothing about validation."""
    _write(tmp_path, ROWS)
    curves = summarize(tmp_path)["validation"]
    assert curves == {
        "acc/mean@16": {"steps": [0, 2], "benchmarks": {"aime24": [0.1, 0.2], "verl_dsdr/arith": [0.5, 0.625]}},
        "acc/maj@16/mean": {"steps": [2], "benchmarks": {"aime24": [0.3]}},
    }
    assert validation_curves([{"step": 1, "val-aux/aime24/acc/std@16": 0.1}]) == {}  # aux metrics are not core


def test_cli_prints_the_table_and_plots_it(tmp_path, capsys):
    _write(tmp_path, ROWS)
    assert main([str(tmp_path), "--plot"]) == 0
    out = capsys.readouterr().out
    assert "validation val-core/<benchmark>/acc/mean@16 by step:" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "verl_dsdr/arith" in line and "step" in line)
    assert lines[header].split() == ["step", "aime24", "verl_dsdr/arith"]
    assert lines[header + 1].split() == ["0", "0.1", "0.5"] and lines[header + 2].split() == ["2", "0.2", "0.625"]
    png = tmp_path / "validation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"validation curves: {png}" in out
    assert json.loads((tmp_path / "summary.json").read_text())["validation"]["acc/mean@16"]["steps"] == [0, 2]


def test_no_validation_is_said_and_plot_refused(tmp_path, capsys):
    _write(tmp_path, ROWS[1:2])
    assert main([str(tmp_path)]) == 0
    assert "validation: no val-core/ metrics logged" in capsys.readouterr().out
    assert main([str(tmp_path), "--plot"]) == 2
    assert "the run never validated" in capsys.readouterr().err
    assert not (tmp_path / "validation.png").exists()


@pytest.mark.parametrize("value", ["nan-text", None])
def test_non_numbers_are_skipped(tmp_path, value):
    _write(tmp_path, [(0, {"val-core/aime24/acc/mean@16": value})])
    assert summarize(tmp_path)["validation"] == {}
