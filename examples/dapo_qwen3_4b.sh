#!/usr/bin/env bash
# Table 1 baseline: DAPO on Qwen3-4B (clip 0.2/0.28, dynamic sampling, overlong penalty).
#
#   MODEL_PATH=/models/Qwen3-4B TRAIN_FILE=data/train.parquet \
#   VAL_FILES=data/aime24.parquet,data/aime25.parquet,data/math500.parquet,data/minerva.parquet,data/olympiadbench.parquet \
#   CKPT_DIR=/ckpt bash examples/dapo_qwen3_4b.sh [extra Hydra overrides]
#
# Shared settings (data, batch sizes, lr, validation, choices the paper leaves open): lib/common.sh.
# Multi-node: start Ray on every node first, then run this on the head with NNODES=<nodes> (README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# ---- Model: Qwen3-4B ----
MAX_RESPONSE_LENGTH=8192     # paper: 8192 for Qwen3
ENABLE_THINKING=false        # Qwen3 chat template: non-thinking mode (a choice; eval uses the same)
MODEL_ARGS=(
  "+data.apply_chat_template_kwargs.enable_thinking=$ENABLE_THINKING"
)

# ---- Method: DAPO baseline (verl's grpo + DAPO's recipe) ----
CLIP_RATIO_LOW=0.2           # clip-higher
CLIP_RATIO_HIGH=0.28
FILTER_GROUPS_METRIC=acc     # dynamic sampling: drop groups whose accuracy is all 0 or all 1
OVERLONG_BUFFER_LEN=$((MAX_RESPONSE_LENGTH / 4))  # soft overlong punishment over the last quarter of the budget
OVERLONG_PENALTY_FACTOR=1.0
METHOD_ARGS=(
  algorithm.adv_estimator=grpo
  "actor_rollout_ref.actor.clip_ratio_low=$CLIP_RATIO_LOW"
  "actor_rollout_ref.actor.clip_ratio_high=$CLIP_RATIO_HIGH"
  algorithm.filter_groups.enable=true
  "algorithm.filter_groups.metric=$FILTER_GROUPS_METRIC"
  reward.reward_manager.name=dapo
  "+reward.reward_kwargs.max_resp_len=$MAX_RESPONSE_LENGTH"
  +reward.reward_kwargs.overlong_buffer_cfg.enable=true
  "+reward.reward_kwargs.overlong_buffer_cfg.len=$OVERLONG_BUFFER_LEN"
  "+reward.reward_kwargs.overlong_buffer_cfg.penalty_factor=$OVERLONG_PENALTY_FACTOR"
  +reward.reward_kwargs.overlong_buffer_cfg.log=false
)

launch "$@"
