#!/usr/bin/env bash
# The paper's pipeline at toy scale on CPU, with the embedded model, in minutes:
#   prepare -> train (verl's real trainer) -> generate -> evaluate (Pass@k, diversity) -> plot.
#   bash scripts/cpu_pipeline.sh
#   METHODS="grpo dsdr" STEPS=5 SAMPLES=8 bash scripts/cpu_pipeline.sh
# Ctrl-C or SIGTERM stops the running step (a training run's processes included) and exits 130 / 143.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"
cd "$REPO"
stop_on_signals
START=$SECONDS
ensure_venv

METHODS="${METHODS:-grpo dsdr setpo asym_grpo}"
STEPS="${STEPS:-10}"
SAMPLES="${SAMPLES:-16}"          # responses per problem for Pass@k (temperature 0.7, top_p 0.9: the paper's Avg@16)
PROBLEMS="${PROBLEMS:-64}"        # evaluation problems (held-out split of the embedded task)
OUT="${OUT:-$REPO/runs/cpu_pipeline}"
mkdir -p "$OUT"/{data,samples,ckpt,logs}
INTERRUPTED="[pipeline] interrupted; logs: $OUT/logs (run the same command again: trained methods are skipped)"

echo "[pipeline] 1/5 assets: tiny model, tokenizer, task (cached)"
eval "$("$PYTHON" -m verl_dsdr.assets build --print-env)"

echo "[pipeline] 2/5 prepare: held-out problems -> benchmark jsonl -> verl parquet (python -m verl_dsdr.data)"
"$PYTHON" - "$VAL_FILE" "$OUT/data/arith_eval.jsonl" "$PROBLEMS" <<'PY'
import json, sys
import pandas as pd
rows = pd.read_parquet(sys.argv[1]).head(int(sys.argv[3]))
with open(sys.argv[2], "w") as f:
    for _, r in rows.iterrows():
        f.write(json.dumps({"unique_id": f"arith-{r['extra_info']['index']}", "problem": r["prompt"][0]["content"],
                            "answer": r["reward_model"]["ground_truth"]}) + "\n")
PY
"$PYTHON" -m verl_dsdr.data custom --name arith --input "$OUT/data/arith_eval.jsonl" --out "$OUT/data" \
  --prompt-style raw --overwrite --no-progress
EVAL_FILE="$OUT/data/arith.parquet"

echo "[pipeline] 3/5 train: $METHODS, $STEPS steps each, verl's trainer on CPU"
for method in $METHODS; do
  if [ -f "$OUT/ckpt/$method/DONE" ]; then echo "  $method: done before, skipped"; continue; fi
  interruptible "$PYTHON" -m verl_dsdr.launch --run-dir "$OUT/logs/$method" --tiny-overrides -- preset=cpu \
    algorithm.adv_estimator="$method" actor_rollout_ref.model.path="$MODEL_PATH" \
    data.train_files="$TRAIN_FILE" data.val_files="$VAL_FILE" \
    trainer.total_training_steps="$STEPS" trainer.save_freq="$STEPS" trainer.default_local_dir="$OUT/ckpt/$method" \
    "actor_rollout_ref.actor.checkpoint.save_contents=[model,hf_model]" trainer.experiment_name="pipeline-$method" \
    > "$OUT/logs/$method.log" 2>&1 || { echo "  $method failed: see $OUT/logs/$method.log"; exit 1; }
  touch "$OUT/ckpt/$method/DONE"
  echo "  $method: trained ($(grep -c '"step"' "$OUT/logs/$method/metrics.jsonl") steps logged)"
done

echo "[pipeline] 4/5 generate: $SAMPLES samples per problem with HF generation (the warm start as reference)"
generate() {  # $1 method name, $2 model folder
  interruptible "$PYTHON" -m verl_dsdr.generate --backend hf --model "$2" --data "$EVAL_FILE" --out "$OUT/samples/$1.jsonl" \
    --method "$1" --n "$SAMPLES" --temperature 0.7 --top-p 0.9 --max-tokens 48 --batch-size 64 --seed 0
}
generate warm_start "$MODEL_PATH"
for method in $METHODS; do
  generate "$method" "$OUT/ckpt/$method/global_step_$STEPS/actor/huggingface"
done

echo "[pipeline] 5/5 evaluate: Pass@k, accuracy, diversity of correct answers, table and plot"
interruptible "$PYTHON" -m verl_dsdr.eval --samples "$OUT"/samples/*.jsonl --out "$OUT/eval"
cat "$OUT/eval/table.md"
echo "[pipeline] done in $((SECONDS - START))s: $OUT/eval/{metrics.json,metrics.csv,table.md,pass_at_k.png}"
