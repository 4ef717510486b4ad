"""A real run stops when the user says so and leaves nothing behind.

- Ctrl-C in the middle of ``bash scripts/quickstart.sh``: SIGINT to the script's process group,
  as a terminal sends it. The prompt must come back within 15 s with exit 130 and one line saying
  so, and no process of the run may be left (before: the launcher and the run's Ray trained on
  in the background to the last step).
- A run that saves Hugging Face weights (``actor.checkpoint.save_contents=[model,hf_model]``, as
  ``scripts/cpu_pipeline.sh`` does) through ``python -m verl_dsdr.launch``, started with a
  temporary folder of its own (``TMPDIR``) so that anything the run's processes put into "the"
  temporary folder shows up there, whatever other programs do in /tmp meanwhile: it must stay
  empty (verl's checkpoint lock files ``ckpt_<hash>.lock``, torch's inductor cache), the run's Ray
  folder must be gone, and so must its processes. The same run's console is the brief one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from verl_dsdr.launch import own_processes
from verl_dsdr.utils.console import NOISE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 15


def _steps_logged(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    return sum(1 for line in path.read_text().splitlines() if '"step"' in line) if path.exists() else 0


def _ray_dir(run_dir: Path) -> str:
    command = json.loads((run_dir / "command.json").read_text())
    return next(a.split("=", 1)[1] for a in command if a.startswith("+ray_kwargs.ray_init._temp_dir="))


def test_ctrl_c_stops_the_quickstart_within_15_s_and_leaves_no_process(assets, tmp_path):
    run_dir = tmp_path / "quickstart"
    console = tmp_path / "console.txt"
    with console.open("wb") as out:
        script = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "quickstart.sh")],
            cwd=REPO,
            env={**os.environ, "STEPS": "20", "RUN_DIR": str(run_dir)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives the foreground job
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a terminal's default
        )
        deadline = time.monotonic() + 900
        while _steps_logged(run_dir) < 2 and script.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert script.poll() is None, console.read_text()[-3000:]
        assert _steps_logged(run_dir) >= 2, "the run did not reach step 2 in time"
        ray_dir = _ray_dir(run_dir)
        token = Path(ray_dir).name
        assert own_processes(token, ray_dir), "the run's processes should be found while it trains"
        interrupted_at = time.monotonic()
        os.killpg(script.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = script.wait(timeout=120)
        finally:
            left = own_processes(token, ray_dir)
        took = time.monotonic() - interrupted_at
    text = console.read_text()
    assert code == 130, text[-3000:]
    assert took < STOP_WITHIN_S, f"the prompt came back {took:.1f} s after Ctrl-C"
    assert left == [], f"processes of the run left after Ctrl-C: {left}"
    assert not Path(ray_dir).exists()
    said = [line for line in text.splitlines() if "interrupted" in line]
    assert len(said) == 1 and str(run_dir / "train.log") in said[0], said
    assert "Traceback" not in text
    steps = _steps_logged(run_dir)
    assert steps < 20
    time.sleep(3)
    assert _steps_logged(run_dir) == steps, "training went on after Ctrl-C"


def test_a_saving_run_leaves_nothing_in_tmp_and_prints_a_brief_console(asym_kl_saving):
    # conftest.py: AsymGRPO with a reference model, saving HF weights, started with TMPDIR of its own.
    run_dir, ckpt, own_tmp, steps = (
        asym_kl_saving.run.run_dir,
        asym_kl_saving.ckpt,
        asym_kl_saving.own_tmp,
        asym_kl_saving.steps,
    )
    console = asym_kl_saving.console
    assert asym_kl_saving.run.returncode == 0, console[-3000:]
    assert (ckpt / f"global_step_{steps}" / "actor" / "huggingface" / "config.json").is_file()
    # Nothing of the run in the temporary folder it was started with, its Ray folder gone, no process left.
    assert sorted(p.name for p in own_tmp.iterdir()) == []
    ray_dir = _ray_dir(run_dir)
    assert not Path(ray_dir).exists()
    assert own_processes(Path(ray_dir).name, ray_dir) == []
    # The console: the config check, one line per step, no warning nobody can act on; train.log has it all.
    lines = console.splitlines()
    assert "[validate_config] All configuration checks passed successfully!" in lines
    assert [line.split(":")[0] for line in lines if line.startswith("[verl-dsdr] step ")] == [
        f"[verl-dsdr] step {n}/{steps}" for n in range(1, steps + 1)
    ]
    assert not [line for line in lines if any(pattern.search(line) for pattern, _ in NOISE)]
    assert not [line for line in lines if re.search("warn", line, re.I)], console
    assert len(lines) <= 25, console
    log = (run_dir / "train.log").read_text()
    assert "engine is not available" in log  # filtered from the console only
    assert "target_num_threads" not in log  # fixed where it is set: TransferQueue's threads from the run's cores
