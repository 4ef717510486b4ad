#!/usr/bin/env bash
# Create or update .venv, install the package with its test extras, run ruff, mypy and the whole suite.
# Arguments go to pytest instead of the default (all of tests/), e.g. `bash scripts/test.sh tests/glue -k loss`.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
ensure_venv test
RAY_TMP="$(ray_temp_dir)"
export VERL_DSDR_RAY_TMPDIR="$RAY_TMP"
trap 'ray_cleanup "$RAY_TMP"' EXIT
if [ "$#" -eq 0 ]; then
  # The whole suite starts with the linter and the type checker (settings in pyproject.toml).
  echo "[verl-dsdr] ruff check"
  "$PYTHON" -m ruff check "$REPO"
  typed=(verl_dsdr/algorithms)
  if [ -d verl_dsdr/methods ]; then typed+=(verl_dsdr/methods); fi
  echo "[verl-dsdr] mypy ${typed[*]}"
  "$PYTHON" -m mypy "${typed[@]}"
fi
"$PYTHON" -m pytest "$@"   # no arguments: pytest.ini's testpaths (tests/)
