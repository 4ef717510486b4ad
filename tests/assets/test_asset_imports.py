"""The asset code must run where only torch/transformers are installed: no verl, no ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_assets_import_neither_verl_nor_ray():
    code = (
        "import sys, verl_dsdr.assets, verl_dsdr.assets.__main__; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('verl', 'ray')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
