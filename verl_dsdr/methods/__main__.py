"""``python -m verl_dsdr.methods docs/ALGORITHM.md``: rewrite the config tables from the methods' dataclasses."""

import sys
from pathlib import Path

from verl_dsdr.methods import METHODS
from verl_dsdr.methods.params import render_config_tables

path = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/ALGORITHM.md")
path.write_text(render_config_tables(path.read_text(), [m.config_cls for m in METHODS.values()]))
