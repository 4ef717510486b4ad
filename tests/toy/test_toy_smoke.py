"""The toy reproduction end to end in its smoke mode: GRPO and DSDR, 1 seed, 2 steps, tiny evaluation.

Two real verl runs on CPU (start-up dominates: about 2 minutes each on the shared 2-core machine),
the evaluation CLI and the report; then every report file is checked, and a second `run` must skip
both finished runs. Marked ``integration`` like the other tests that start verl's trainer.
"""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from verl_dsdr.launch import own_processes
from verl_dsdr.toy.runs import WARM_START, read_done, run_dir, sample_label

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
METHODS = ("grpo", "dsdr")


def _toy(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLCONFIGDIR=str(REPO / ".cache" / "matplotlib"))
    return subprocess.run(
        [sys.executable, "-m", "verl_dsdr.toy", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy_smoke")
    run = _toy("run", "--smoke", "--methods", ",".join(METHODS), "--out", str(out))
    report = _toy("report", "--out", str(out), "--wall-s", "1.0") if run.returncode == 0 else None
    return out, run, report


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_smoke_run_trains_and_evaluates_both_methods(smoke):
    out, run, _ = smoke
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert set(metrics) == {sample_label(m, 0) for m in METHODS} | {sample_label(WARM_START, 0)}
    for method in METHODS:
        entry = metrics[sample_label(method, 0)]["arith_val"]
        assert entry["problems"] == 6 and entry["samples_per_problem"] == 4  # the smoke plan's evaluation
        assert set(entry["pass@k"]) == {"1", "2", "3", "4"}  # every k = 1..n
        done = read_done(run_dir(out, method, 0))
        assert done["steps"] == 2 and done["samples_rows"] == 6 * 4
        assert own_processes(done["process_token"], done["ray_dir"]) == [], "the run left processes behind"


def test_smoke_report_has_every_file(smoke):
    out, run, report = smoke
    assert report is not None and report.returncode == 0, (report.stderr if report else run.stderr)[-3000:]
    text = (out / "report.md").read_text()
    for label in ("| GRPO | 1 |", "| DSDR | 1 |", "| warm start (reference) | 1 |"):
        assert label in text
    for name in ("training_curves.png", "dsdr_diversity.png", "pass_at_k.png", "eval_diversity.png"):
        width, height = _png_size(out / name)
        assert width > 200 and height > 200, name
    assert len((out / "summary.csv").read_text().splitlines()) == 1 + 3


def test_second_run_skips_finished_runs(smoke):
    out, run, _ = smoke
    assert run.returncode == 0
    again = _toy("run", "--smoke", "--methods", ",".join(METHODS), "--out", str(out), timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    for method in METHODS:
        assert f"{method} seed 0: finished earlier, skipped" in again.stdout
    assert "evaluation is up to date" in again.stdout


def test_a_different_plan_is_refused_in_the_same_folder(smoke):
    out, run, _ = smoke
    assert run.returncode == 0
    other = _toy("run", "--smoke", "--steps", "3", "--methods", "grpo", "--out", str(out), timeout=120)
    assert other.returncode != 0 and "different plan" in other.stderr
