# Shared environment for the project's scripts: the venv, and caches kept under the repo.
# Source it from a script in scripts/ (it defines REPO, CACHE, PYTHON, ensure_venv).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${VERL_DSDR_CACHE:-$REPO/.cache/verl_dsdr}"
export VERL_DSDR_CACHE="$CACHE"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$REPO/.cache/pip}"
export HF_HOME="${HF_HOME:-$REPO/.cache/huggingface}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false RAY_USAGE_STATS_ENABLED=0
export MPLCONFIGDIR="${MPLCONFIGDIR:-$REPO/.cache/matplotlib}"
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-$REPO/.cache/torchinductor}"
# wandb (verl logs to it only when trainer.logger lists wandb): a WANDB_MODE you set is kept; a
# script whose arguments ask for wandb (trainer.logger=[...,wandb]) gets wandb's own default (online
# after `wandb login`); anything else gets offline: nothing is sent, nothing is lost (`wandb sync`).
# verl_dsdr.launch applies the same rule (verl_dsdr/utils/tracking.py).
if [ -z "${WANDB_MODE+set}" ] && [[ " $* " != *trainer.logger=*wandb* ]]; then export WANDB_MODE=offline; fi
export WANDB_DIR="${WANDB_DIR:-$REPO/.cache/wandb}"
VENV="${VERL_DSDR_VENV:-$REPO/.venv}"
PYTHON="$VENV/bin/python"

# Create .venv if missing and install the package (with extras "$1", e.g. "test").
ensure_venv() {
  local extras="${1:-}"
  if [ ! -x "$PYTHON" ]; then
    echo "[verl-dsdr] creating $VENV"
    python3 -m venv "$VENV"
    "$PYTHON" -m pip install -q --upgrade pip setuptools wheel
  fi
  local spec="$REPO"
  if [ -n "$extras" ]; then spec="$REPO[$extras]"; fi
  local stamp="$VENV/.verl_dsdr_installed_${extras:-base}"
  local digest
  # Reinstall when the requirements, the package metadata or the lock change.
  digest="$(cat "$REPO/requirements.txt" "$REPO/pyproject.toml" "$REPO/requirements.lock" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "[verl-dsdr] installing requirements (first run: a few minutes, torch is large)"
    local start=$SECONDS
    # requirements.lock pins every package to the versions the suite was run with (bash scripts/lock.sh).
    "$PYTHON" -m pip install -q -e "$spec" -c "$REPO/requirements.lock"
    echo "$digest" > "$stamp"
    echo "[verl-dsdr] installed in $((SECONDS - start))s"
  fi
}

# Ctrl-C (SIGINT) or SIGTERM ends a script at once, with one line saying so, and exit 130 / 143.
# A script sets INTERRUPTED to that line (where its logs are) and calls `stop_on_signals`; each
# long step runs as `interruptible CMD...`: in the background while the script waits, because
# bash runs a trap only between foreground commands (a SIGTERM would otherwise wait for the step
# to finish). On a signal the step gets SIGTERM (a terminal's Ctrl-C reaches it directly too: same
# process group), the script waits while it stops (verl_dsdr.launch stops its run's processes and
# prints its own line; INTERRUPTED="" then), and later signals are ignored until it has.
stop_on_signals() {
  trap '_on_signal 130' INT
  trap '_on_signal 143' TERM
}
_on_signal() {
  trap '' INT TERM
  if [ -n "${_STEP_PID:-}" ]; then
    kill -TERM "$_STEP_PID" 2>/dev/null || true
    wait "$_STEP_PID" 2>/dev/null || true
  fi
  if [ -n "${INTERRUPTED:-}" ]; then echo "$INTERRUPTED"; fi
  exit "$1"
}
interruptible() {
  "$@" &
  _STEP_PID=$!
  local status=0
  wait "$_STEP_PID" || status=$?   # a trapped signal ends the wait at once, and _on_signal exits
  _STEP_PID=
  return "$status"
}
