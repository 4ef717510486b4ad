"""Stopping a run: Ctrl-C or SIGTERM ends ``python -m verl_dsdr.launch`` and every process of its run.

The launcher runs a stand-in for ``verl_dsdr.main_ppo`` (no verl, no Ray, a second each) that
starts what makes a real run hard to stop: a child that ignores SIGTERM and names the run's Ray
folder (as Ray's daemons do), and a grandchild with neither the run's token nor its folder (as
Ray's renamed agents), found only as a descendant. The real run is stopped the same way in
``tests/integration/test_stop_and_cleanup.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_TRAINER = r"""
import os, subprocess, sys, time
ray_dir, pid_file = sys.argv[1], sys.argv[2]
os.makedirs(ray_dir, exist_ok=True)
stubborn = subprocess.Popen([sys.executable, "-c",
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    "env = {k: v for k, v in __import__('os').environ.items() if k != 'VERL_DSDR_RUN_TOKEN'};"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], env=env);"
    "print(p.pid, file=open(sys.argv[2], 'a'), flush=True); time.sleep(600)", ray_dir, pid_file])
open(pid_file, "a").write(f"{os.getpid()}\n{stubborn.pid}\n")
print("step:1 - critic/score/mean:0.5 - timing_s/step:1.0", flush=True)
time.sleep(600)
"""
DRIVER = r"""
import sys
import verl_dsdr.launch as launch
fake, pid_file = sys.argv[1], sys.argv[2]
launch.main_ppo_command = lambda overrides, run_dir, ray_dir, python=sys.executable: [python, fake, ray_dir, pid_file]
sys.exit(launch.main(["--run-dir", sys.argv[3]]))
"""


def _start(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    fake, pid_file, run_dir = tmp_path / "fake_trainer.py", tmp_path / "pids", tmp_path / "run"
    fake.write_text(FAKE_TRAINER)
    launcher = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(fake), str(pid_file), str(run_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal gives a foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pid_file.exists() and len(pid_file.read_text().split()) == 3:
            return launcher, pid_file, run_dir
        time.sleep(0.1)
    launcher.kill()
    pytest.fail("the stand-in trainer did not start its processes")


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize(
    "signals, code", [((signal.SIGINT,), 130), ((signal.SIGTERM,), 143), ((signal.SIGINT, signal.SIGINT), 130)]
)
def test_a_signal_stops_every_process_of_the_run(tmp_path, signals, code):
    launcher, pid_file, run_dir = _start(tmp_path)
    pids = [int(p) for p in pid_file.read_text().split()]
    ray_dir = next(Path(a) for a in (run_dir / "command.json").read_text().split('"') if "vdsdr_ray_" in a)
    started = time.monotonic()
    for sig in signals:  # to the whole group for SIGINT (a terminal's Ctrl-C), to the launcher for SIGTERM
        if sig == signal.SIGINT:
            os.killpg(launcher.pid, sig)
        else:
            launcher.send_signal(sig)
        time.sleep(0.3)
    output, _ = launcher.communicate(timeout=30)
    elapsed = time.monotonic() - started
    text = output.decode()
    assert launcher.returncode == code, text
    assert elapsed < 15, elapsed
    assert not _alive(pids), f"left running: {_alive(pids)}"
    assert not ray_dir.exists()
    lines = [line for line in text.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and str(run_dir / "train.log") in lines[0], text
    assert "Traceback" not in text, text
    assert "step 1" in text  # the brief console's step line came before


def test_a_run_that_ends_by_itself_leaves_nothing(tmp_path):
    """The clean-up after a normal end finds the same processes (the stubborn child outlives the trainer)."""
    from verl_dsdr import launch

    fake, pid_file = tmp_path / "fake_trainer.py", tmp_path / "pids"
    fake.write_text(FAKE_TRAINER.replace("\ntime.sleep(600)\n", "\n"))  # the trainer ends after its step line
    original = launch.main_ppo_command
    launch.main_ppo_command = lambda overrides, run_dir, ray_dir, python=sys.executable: [
        python,
        str(fake),
        ray_dir,
        str(pid_file),
    ]
    try:
        run = launch.run_training([], tmp_path / "run", timeout_s=60)
    finally:
        launch.main_ppo_command = original
    pids = [int(p) for p in pid_file.read_text().split()]
    assert run.returncode == 0
    assert len(run.leftovers) >= 2  # the stubborn child and its grandchild were left by the trainer
    assert not _alive(pids)
    assert not Path(run.ray_dir).exists()
    assert "stopped the run's leftover processes" in (tmp_path / "run" / "train.log").read_text()


def test_the_scripts_forward_a_signal_to_their_step_and_say_so(tmp_path):
    """scripts/lib/env.sh: `interruptible` makes SIGTERM end a long step at once (exit 143, one line)."""
    script = (
        f'source "{REPO}/scripts/lib/env.sh"; INTERRUPTED="[test] interrupted; logs: here"; stop_on_signals; '
        "interruptible sleep 600; echo not-reached"
    )
    shell = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    time.sleep(1.0)
    steps = [c.pid for c in psutil.Process(shell.pid).children()]
    started = time.monotonic()
    shell.send_signal(signal.SIGTERM)
    output, _ = shell.communicate(timeout=10)
    assert shell.returncode == 143
    assert time.monotonic() - started < 5
    assert output.decode().splitlines() == ["[test] interrupted; logs: here"]
    assert steps and not _alive(steps)
