#!/usr/bin/env bash
# Table 1 ablation w/o GC on Qwen3-1.7B, Sec. 4.4 reading: no token-level entropy term (lambda_l = 0).
#
#   MODEL_PATH=/models/Qwen3-1.7B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/dsdr_wo_gc_noent_qwen3_1.7b.sh [extra Hydra overrides]
#
# Shared settings (data, batch sizes, lr, validation, choices the paper leaves open): lib/common.sh.
# Multi-node: start Ray on every node first, then run this on the head with NNODES=<nodes> (README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# ---- Model: Qwen3-1.7B ----
MAX_RESPONSE_LENGTH=8192     # paper: 8192 for Qwen3
ENABLE_THINKING=false        # Qwen3 chat template: non-thinking mode (a choice; eval uses the same)
MODEL_ARGS=(
  "+data.apply_chat_template_kwargs.enable_thinking=$ENABLE_THINKING"
)

# ---- Method: DSDR w/o GC (Sec. 4.4): no local entropy term ----
LAMBDA_D=0.001               # Eq. 10: weight of the correct-only global diversity bonus
LAMBDA_L=0.0                 # Eq. 16: weight of the local (token-entropy) term
TAU=5.0                      # Eq. 11: coupling temperature (multiplies d)
COUPLING=softmax             # Eq. 11 softmax weights; uniform = w/o GC (Sec. 4.3)
CLIP_RATIO_LOW=0.2
CLIP_RATIO_HIGH=0.28
METHOD_ARGS=(
  algorithm.adv_estimator=dsdr
  "algorithm.dsdr.lambda_d=$LAMBDA_D"
  "algorithm.dsdr.lambda_l=$LAMBDA_L"
  "algorithm.dsdr.tau=$TAU"
  "algorithm.dsdr.coupling=$COUPLING"
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
)

launch "$@"
