#!/usr/bin/env bash
# Create or update .venv, install the package with its test extras, run the whole suite.
# Arguments go to pytest instead of the default (all of tests/), e.g. `bash scripts/test.sh tests/glue -k loss`.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
ensure_venv test
RAY_TMP="$(ray_temp_dir)"
export VERL_DSDR_RAY_TMPDIR="$RAY_TMP"
trap 'ray_cleanup "$RAY_TMP"' EXIT
"$PYTHON" -m pytest "$@"   # no arguments: pytest.ini's testpaths (tests/)
