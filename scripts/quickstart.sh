#!/usr/bin/env bash
# verl-dsdr's main job on its embedded default: DSDR through verl's real PPO trainer on CPU
# with a tiny locally built Qwen2-shaped model on a small arithmetic task.
#   bash scripts/quickstart.sh                      # DSDR, 3 steps
#   ESTIMATOR=grpo STEPS=5 bash scripts/quickstart.sh
#   bash scripts/quickstart.sh algorithm.dsdr.tau=1.0   # any verl / verl-dsdr override
# Each run has its own folder (RUN_DIR) and its own Ray (python -m verl_dsdr.launch), so runs can
# go side by side; only the run's own processes are stopped at the end, or at Ctrl-C (exit 130).
# The console shows the config check, start-up milestones, one line per step and the summary;
# RUN_DIR/train.log has every line (VERL_DSDR_CONSOLE=full prints them all here too).
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
INTERRUPTED="[verl-dsdr] interrupted before training started"
stop_on_signals
START=$SECONDS
ensure_venv
INSTALLED=$SECONDS

ESTIMATOR="${ESTIMATOR:-dsdr}"
STEPS="${STEPS:-3}"
RUN_DIR="${RUN_DIR:-$REPO/runs/quickstart-$ESTIMATOR-$(date +%Y%m%d-%H%M%S)-$$}"
mkdir -p "$RUN_DIR"

echo "[verl-dsdr] building the embedded assets (cached after the first run)"
eval "$("$PYTHON" -m verl_dsdr.assets build --print-env)"   # MODEL_PATH TRAIN_FILE VAL_FILE
ASSETS=$SECONDS

echo "[verl-dsdr] training: algorithm.adv_estimator=$ESTIMATOR, $STEPS steps on CPU (logs: $RUN_DIR)"
INTERRUPTED=""  # the launcher says it was interrupted, and where the logs are
STATUS=0
interruptible "$PYTHON" -m verl_dsdr.launch --run-dir "$RUN_DIR" --tiny-overrides -- \
  preset=cpu \
  algorithm.adv_estimator="$ESTIMATOR" \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  data.train_files="$TRAIN_FILE" data.val_files="$VAL_FILE" \
  trainer.total_training_steps="$STEPS" \
  trainer.experiment_name="quickstart-$ESTIMATOR" \
  "$@" || STATUS=$?
INTERRUPTED="[verl-dsdr] interrupted; the run finished, logs: $RUN_DIR"
if [ "$STATUS" -ne 0 ]; then
  echo "[verl-dsdr] training failed (exit $STATUS); see $RUN_DIR/train.log"
  exit "$STATUS"
fi
echo "[verl-dsdr] install/check $((INSTALLED - START))s, assets $((ASSETS - INSTALLED))s, train $((SECONDS - ASSETS))s"
"$PYTHON" -m verl_dsdr.summary "$RUN_DIR" --wall-s "$((SECONDS - START))" --train-s "$((SECONDS - ASSETS))"
