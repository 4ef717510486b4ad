#!/usr/bin/env bash
# Table 1 baseline: GRPO on Qwen3-1.7B (clip 0.2/0.2), same data and budget as DSDR.
#
#   MODEL_PATH=/models/Qwen3-1.7B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/grpo_qwen3_1.7b.sh [extra Hydra overrides]
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

# ---- Method: GRPO baseline (symmetric clip, as in the paper) ----
CLIP_RATIO_LOW=0.2
CLIP_RATIO_HIGH=0.2
METHOD_ARGS=(
  algorithm.adv_estimator=grpo
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
)

launch "$@"
