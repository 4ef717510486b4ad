#!/usr/bin/env bash
# Regenerate requirements.lock from the project's .venv: every installed package at its installed
# version, the project itself left out. Run after a deliberate upgrade, then run the suite.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
{
  echo "# Exact versions of every package in a working .venv (Python $("$PYTHON" -c 'import platform; print(platform.python_version())'), Linux x86_64)."
  echo "# Used as pip constraints by scripts/lib/env.sh: pip install -e \".[test]\" -c requirements.lock"
  echo "# Regenerate with: bash scripts/lock.sh"
  # Local build labels are dropped (torch 2.13.0+cpu -> 2.13.0): pip then takes the CPU build where the
  # machine offers it (as here) and the PyPI build elsewhere.
  "$PYTHON" -m pip freeze --exclude-editable | grep -v '^#' | sed -E 's/\+[A-Za-z0-9.]+$//'
} > requirements.lock
echo "wrote $REPO/requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
