#!/usr/bin/env bash
# Create or update .venv, install the package with its test extras, run the whole suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k cpu_trainer`).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
ensure_venv test
RAY_TMP="$(ray_temp_dir)"
export VERL_DSDR_RAY_TMPDIR="$RAY_TMP"
trap 'ray_cleanup "$RAY_TMP"' EXIT
"$PYTHON" -m pytest tests "$@"
