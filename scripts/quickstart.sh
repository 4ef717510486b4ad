#!/usr/bin/env bash
# verl-dsdr's main job on its embedded default: DSDR through verl's real PPO trainer on CPU
# with a tiny locally built Qwen2-shaped model on a small arithmetic task.
#   bash scripts/quickstart.sh                      # DSDR, 3 steps
#   ESTIMATOR=grpo STEPS=5 bash scripts/quickstart.sh
#   bash scripts/quickstart.sh algorithm.dsdr.tau=1.0   # any verl / verl-dsdr override
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
START=$SECONDS
ensure_venv
INSTALLED=$SECONDS

ESTIMATOR="${ESTIMATOR:-dsdr}"
STEPS="${STEPS:-3}"
RUN_DIR="${RUN_DIR:-$REPO/runs/quickstart-$ESTIMATOR-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$RUN_DIR"

echo "[verl-dsdr] building the embedded assets (cached after the first run)"
eval "$("$PYTHON" -m verl_dsdr.assets build --print-env)"   # MODEL_PATH TRAIN_FILE VAL_FILE

RAY_TMP="$(ray_temp_dir)"
trap 'ray_cleanup "$RAY_TMP"' EXIT
export VERL_FILE_LOGGER_PATH="$RUN_DIR/metrics.jsonl" VERL_DSDR_RUN_INFO="$RUN_DIR/run_info.json"

echo "[verl-dsdr] training: algorithm.adv_estimator=$ESTIMATOR, $STEPS steps on CPU (logs: $RUN_DIR)"
set +e
"$PYTHON" -m verl_dsdr.main_ppo \
  preset=cpu \
  "hydra.run.dir=$RUN_DIR/hydra" \
  "+ray_kwargs.ray_init._temp_dir=$RAY_TMP" \
  algorithm.adv_estimator="$ESTIMATOR" \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  data.train_files="$TRAIN_FILE" data.val_files="$VAL_FILE" \
  $(cat "$REPO/scripts/lib/cpu_tiny_overrides.txt") \
  trainer.total_training_steps="$STEPS" \
  trainer.experiment_name="quickstart-$ESTIMATOR" \
  "$@" 2>&1 | tee "$RUN_DIR/train.log"
STATUS=${PIPESTATUS[0]}
set -e
if [ "$STATUS" -ne 0 ]; then
  echo "[verl-dsdr] training failed (exit $STATUS); see $RUN_DIR/train.log"
  exit "$STATUS"
fi
echo "[verl-dsdr] install/check $((INSTALLED - START))s, train $((SECONDS - INSTALLED))s"
"$PYTHON" -m verl_dsdr.summary "$RUN_DIR" --wall-s "$((SECONDS - START))"
