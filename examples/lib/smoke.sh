# shellcheck shell=bash
# VERL_DSDR_CPU_SMOKE=1: run a script's own override list on CPU before a cluster run. Sourced by
# lib/common.sh. The script's settings are kept as they are (method, clip, loss aggregation,
# remove-padding, gradient checkpointing, dynamic micro-batches, sampling, validation and
# checkpoint settings, resume mode); only these are swapped in:
#   - sizes: batch, mini-batch, prompt and response lengths and the token budgets derived from
#     them, the validation set, the cluster shape (1 node x 1 logical GPU);
#   - steps: 2 steps, validation (before training, as the scripts do, and at step 2) and one
#     checkpoint save (step 2);
#   - the rollout backend (hf_cpu instead of vLLM) and the CPU preset (preset=cpu);
#   - the run folder: $SMOKE_DIR/$EXPERIMENT (default runs/smoke-<time>/ in this checkout), and
#     a Ray folder of its own under /tmp (verl_dsdr.launch.run_training; only the run's own
#     processes are stopped afterwards).
# MODEL_PATH, TRAIN_FILE and VAL_FILES default to the embedded assets (a tiny model and task built
# locally; `python -m verl_dsdr.assets build --print-env`); CKPT_DIR is not used.
# examples/README.md lists every swapped key; tests/examples checks that nothing else differs.

SMOKE_PROMPT_LENGTH=64
SMOKE_RESPONSE_LENGTH=48
SMOKE_TOTAL_LENGTH=$((SMOKE_PROMPT_LENGTH + SMOKE_RESPONSE_LENGTH))

# Verl keys set in every smoke run (swapped where the script has them, added where it does not).
# The token budgets keep the scripts' rule: one full-length sequence per update micro-batch, two for
# log-probs.
declare -A SMOKE_SET=(
  [preset]=cpu
  [data.train_batch_size]=8
  [data.max_prompt_length]=$SMOKE_PROMPT_LENGTH
  [data.max_response_length]=$SMOKE_RESPONSE_LENGTH
  [data.val_max_samples]=4
  [actor_rollout_ref.actor.ppo_mini_batch_size]=4
  [actor_rollout_ref.actor.ppo_max_token_len_per_gpu]=$SMOKE_TOTAL_LENGTH
  [actor_rollout_ref.rollout.name]=hf_cpu
  [actor_rollout_ref.rollout.max_model_len]=$SMOKE_TOTAL_LENGTH
  [actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu]=$((2 * SMOKE_TOTAL_LENGTH))
  [trainer.nnodes]=1
  [trainer.n_gpus_per_node]=1
  [trainer.total_training_steps]=2
  [trainer.save_freq]=2
  [trainer.test_freq]=2
)
# Keys a script adds itself (+key): swapped only where the script has them. DAPO's overlong buffer
# keeps its share of the response budget (a quarter of 8192 stays a quarter of 48).
declare -A SMOKE_SWAP_ADDED=(
  [reward.reward_kwargs.max_resp_len]=$SMOKE_RESPONSE_LENGTH
  [reward.reward_kwargs.overlong_buffer_cfg.len]=scaled
)
# Keys dropped: verl_dsdr.launch.run_training puts Hydra's output in the run folder itself.
SMOKE_DROP=(hydra.run.dir)

smoke_requested() {
  [[ "${VERL_DSDR_CPU_SMOKE:-0}" == 1 ]]
}

# smoke_environment: embedded assets for whichever of MODEL_PATH, TRAIN_FILE, VAL_FILES is unset,
# the smoke run folder instead of CKPT_DIR, and this checkout's interpreter.
smoke_environment() {
  local repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [[ -z "${PYTHON:-}" && -x "$repo/.venv/bin/python" ]]; then PYTHON="$repo/.venv/bin/python"; fi
  PYTHON="${PYTHON:-python3}"
  if [[ -z "${MODEL_PATH:-}" || -z "${TRAIN_FILE:-}" || -z "${VAL_FILES:-}" ]]; then
    local assets
    echo "[verl-dsdr] smoke test: embedded assets for what is unset of MODEL_PATH, TRAIN_FILE, VAL_FILES" >&2
    assets="$("$PYTHON" -m verl_dsdr.assets build --print-env)" || die "building the embedded assets failed (see above)"
    local MODEL_PATH_ASSET TRAIN_FILE_ASSET VAL_FILE_ASSET
    MODEL_PATH_ASSET="$(smoke_asset MODEL_PATH "$assets")"
    TRAIN_FILE_ASSET="$(smoke_asset TRAIN_FILE "$assets")"
    VAL_FILE_ASSET="$(smoke_asset VAL_FILE "$assets")"
    MODEL_PATH="${MODEL_PATH:-$MODEL_PATH_ASSET}"
    TRAIN_FILE="${TRAIN_FILE:-$TRAIN_FILE_ASSET}"
    VAL_FILES="${VAL_FILES:-$VAL_FILE_ASSET}"
  fi
  CKPT_DIR="${SMOKE_DIR:-$repo/runs/smoke-$(date +%Y%m%d-%H%M%S)}"
}

# smoke_asset NAME EXPORTS: the value of NAME in the `export NAME=...` lines of the assets CLI.
smoke_asset() {
  local name="$1" exports="$2" line
  line="$(grep -m1 "^export $name=" <<<"$exports")" || die "the assets CLI printed no $name"
  eval "printf '%s' ${line#export "$name"=}"
}

# smoke_overrides ARGS...: the script's overrides with the smoke settings swapped in -> SMOKE_ARGS.
smoke_overrides() {
  local arg key bare value real_response=""
  local -A seen=()
  SMOKE_ARGS=()
  for arg in "$@"; do
    key="${arg%%=*}"
    bare="${key#+}"; bare="${bare#+}"
    if [[ "$bare" == data.max_response_length ]]; then real_response="${arg#*=}"; fi
  done
  for arg in "$@"; do
    key="${arg%%=*}"
    bare="${key#+}"; bare="${bare#+}"
    if [[ " ${SMOKE_DROP[*]} " == *" $bare "* ]]; then
      continue
    elif [[ -n "${SMOKE_SET[$bare]+set}" ]]; then
      SMOKE_ARGS+=("$key=${SMOKE_SET[$bare]}")
      seen[$bare]=1
    elif [[ -n "${SMOKE_SWAP_ADDED[$bare]+set}" ]]; then
      value="${SMOKE_SWAP_ADDED[$bare]}"
      if [[ "$value" == scaled ]]; then
        [[ "$real_response" =~ ^[0-9]+$ ]] || die "$bare needs data.max_response_length to scale with; the script sets none"
        value=$(( ${arg#*=} * SMOKE_RESPONSE_LENGTH / real_response ))
      fi
      SMOKE_ARGS+=("$key=$value")
    else
      SMOKE_ARGS+=("$arg")
    fi
  done
  for key in $(printf '%s\n' "${!SMOKE_SET[@]}" | sort); do
    [[ -n "${seen[$key]+set}" ]] || SMOKE_ARGS+=("$key=${SMOKE_SET[$key]}")
  done
}

# smoke_run OVERRIDES...: train through verl_dsdr.launch.run_training (own Ray folder, own
# processes stopped), following its log, then check the run did what a smoke test promises.
smoke_run() {
  echo "[verl-dsdr] CPU smoke test of $EXPERIMENT: 2 steps, validation, one checkpoint; run folder $RUN_DIR"
  exec "$PYTHON" "$(dirname "${BASH_SOURCE[0]}")/smoke_run.py" "$RUN_DIR" "$@"
}
