#!/usr/bin/env bash
# Create or update .venv, install the package with its test extras, run ruff, mypy and the whole suite.
# Arguments go to pytest instead of the default (all of tests/), e.g. `bash scripts/test.sh tests/glue -k loss`.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
ensure_venv test
# Every verl run of the suite starts its own Ray in its own folder and stops exactly its own
# processes (verl_dsdr.launch), so the suite can run beside a quickstart or another suite.
if [ "$#" -eq 0 ]; then
  # The whole suite starts with the linter, the type checker and the dead-code check (settings in pyproject.toml).
  echo "[verl-dsdr] ruff check and ruff format --check"
  "$PYTHON" -m ruff check "$REPO"
  "$PYTHON" -m ruff format --check "$REPO"
  echo "[verl-dsdr] mypy verl_dsdr (the whole package)"
  "$PYTHON" -m mypy verl_dsdr
  echo "[verl-dsdr] vulture (dead code at 80% confidence; settings and reasons in pyproject.toml)"
  "$PYTHON" -m vulture
fi
"$PYTHON" -m pytest "$@"   # no arguments: pytest.ini's testpaths (tests/)
