"""verl_dsdr/utils/processes.py finds a run's processes by identity only, orphans of a killed raylet included."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from verl_dsdr.utils.processes import MARKER_ENV, own_processes, stop_processes

HOLD_A_FILE = "import os, sys, time; f = open(os.environ['HOLD'], 'w'); f.write('x'); f.flush(); time.sleep(60)"


def _start(path, **env) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if k != MARKER_ENV}
    proc = subprocess.Popen([sys.executable, "-c", HOLD_A_FILE], env={**clean, "HOLD": str(path), **env})
    deadline = time.monotonic() + 20
    while not (path.exists() and path.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def test_a_process_is_found_by_a_file_it_holds_in_the_folder_and_only_then(tmp_path):
    folder, elsewhere = tmp_path / "vdsdr_ray_test", tmp_path / "other"
    folder.mkdir()
    elsewhere.mkdir()
    # Neither the token nor the folder on its command line: a renamed agent whose raylet is gone.
    inside = _start(folder / "agent.log")
    outside = _start(elsewhere / "agent.log")
    tokened = _start(elsewhere / "worker.log", **{MARKER_ENV: "tok"})
    try:
        found = own_processes("tok", str(folder))
        assert inside.pid in found and tokened.pid in found
        assert outside.pid not in found
        assert own_processes("", str(elsewhere) + "_") == []  # a prefix of a name is not the folder
    finally:
        stop_processes([inside.pid, outside.pid, tokened.pid], grace_s=1.0)
    for proc in (inside, outside, tokened):
        assert proc.wait(timeout=5) is not None
