"""The start-up timeline the launcher writes and scripts/bench_startup.py's table, on a recorded run's output."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from verl_dsdr.utils.console import STARTUP_MILESTONES, Timeline

REPO = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).parent / "fixtures" / "quickstart_console.log"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_startup", REPO / "scripts" / "bench_startup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timeline() -> Timeline:
    timeline = Timeline()
    for number, line in enumerate(RECORDED.read_bytes().decode().split("\n"), start=1):
        timeline.feed(line, float(number))  # one second per line: the order is what is checked
    timeline.mark("trainer exited", 200.0)
    timeline.mark("processes stopped", 203.5)
    return timeline


def test_every_milestone_is_found_in_order_then_every_step():
    recorded = _timeline().as_json()
    assert [label for label, _ in recorded["milestones"]] == [label for label, _ in STARTUP_MILESTONES]
    times = [t for _, t in recorded["milestones"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert [step for step, _ in recorded["steps"]] == [1, 2, 3]
    assert recorded["steps"][0][1] > times[-1]  # step 1 ends after it began


def test_the_table_has_one_row_per_phase_and_adds_up(tmp_path, capsys):
    import json

    bench = _bench()
    (tmp_path / "timeline.json").write_text(json.dumps(_timeline().as_json()))
    assert bench.main(["--run-dir", str(tmp_path), "--json", str(tmp_path / "out.json")]) == 0
    rows = json.loads((tmp_path / "out.json").read_text())["rows"]
    names = [name for name, _, _ in rows]
    assert names[0] == "driver start -> Ray started"
    assert names[len(STARTUP_MILESTONES) - 1] == "agent-loop and reward workers ready -> step 1 begins"
    assert names[-5:] == [
        "training step 1",
        "training step 2",
        "training step 3",
        "shutdown: trainer exited",
        "processes stopped",
    ]
    assert sum(seconds for _, seconds, _ in rows) == rows[-1][2] == 203.5
    assert "training step 3" in capsys.readouterr().out


def test_a_run_without_a_timeline_is_refused_with_the_reason(tmp_path, capsys):
    assert _bench().main(["--run-dir", str(tmp_path)]) == 2
    assert "timeline.json not found" in capsys.readouterr().err
