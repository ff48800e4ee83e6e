#!/usr/bin/env bash
# Batch build: the slow (LLM) stages, synth and search-agent, run as N independent shards,
# then the shards are joined and the fast stages run once.
#
#   bash examples/batch-shards.sh WORK N              # WORK holds index/ and walks.jsonl
#   SHARDS_BACKEND=openai BASE_URL=http://router:8080/v1 MODEL=my-model \
#     bash examples/batch-shards.sh /data/ltrl-work 16
#
# `--shard I/N` keeps the records whose id hashes to shard I, the same on every machine,
# so shard I can run anywhere. Without SHARD, the N shards run here as background
# processes (logs in WORK/shards/shard.I.log), then everything is merged. On a cluster, one
# Slurm array task per shard, then the merge once they all succeeded (README, "Running on
# many machines"):
#   job=$(sbatch --parsable --array=0-15 --wrap 'SHARD=$SLURM_ARRAY_TASK_ID bash examples/batch-shards.sh WORK 16')
#   sbatch --dependency=afterok:$job --wrap 'bash examples/batch-shards.sh WORK 16 merge'
# Each shard has its own response cache files, so a killed shard, run again, asks the
# endpoint only what had not been answered; its files appear whole or not at all.
#
# SHARDS_BACKEND=offline (the default) uses the offline stand-ins (template writer,
# lexical agent), so the script can be tried on the demo's work dir:
#   bash examples/demo.sh && bash examples/batch-shards.sh work/demo 4
#
# Settings (environment):
#   SHARDS_BACKEND  offline (template writer, lexical agent) or openai [offline]
#   BASE_URL, MODEL the endpoint and the model (openai); AGENT_MODEL the agent's [MODEL],
#                   which also judges; API_KEY_ENV the key's variable [OPENAI_API_KEY]
#   SHARD           run shard SHARD only (0 <= SHARD < N), e.g. $SLURM_ARRAY_TASK_ID
#   INDEX           the index directory [the first WORK/index*/]
#   ROLLOUTS        search-agent rollouts per question [5]
#   CONCURRENCY     requests in flight per shard process [32]
#   TOKENIZER       tokenizer of the model you will train [tiktoken:o200k_base]
#   TARGET_TOKENS   prompt length [131072]
#   LTRL_CACHE_DIR  where the shards' response caches live [WORK/cache]
# Writes WORK/shards/{questions,trajectories}.I.jsonl per shard, then WORK/questions.jsonl,
# trajectories.jsonl, tiered.jsonl, train.jsonl, stats.json and the exports
# train-slime.jsonl, train-verl.parquet, train-trl.parquet.
set -euo pipefail

WORK=${1:?usage: batch-shards.sh WORK N [merge]  (WORK holds walks.jsonl and an index directory)}
N=${2:-4}
MODE=${3:-all}
INDEX=${INDEX:-$(ls -d "$WORK"/index*/ 2>/dev/null | head -1)}
INDEX=${INDEX%/}
[[ -f "$INDEX/COMPLETE" ]] || { echo "batch-shards: no complete index in $WORK (set INDEX=DIR)" >&2; exit 1; }
[[ -s "$WORK/walks.jsonl" ]] || { echo "batch-shards: $WORK/walks.jsonl is missing (run ltrl walk)" >&2; exit 1; }
TOKENIZER=${TOKENIZER:-tiktoken:o200k_base}
TARGET=${TARGET_TOKENS:-131072}
CACHE_DIR=${LTRL_CACHE_DIR:-$WORK/cache}
CONCURRENCY=${CONCURRENCY:-32}

if [[ ${SHARDS_BACKEND:-offline} == openai ]]; then
  : "${BASE_URL:?set BASE_URL}" "${MODEL:?set MODEL}"
  synth_backend=(--backend openai --base-url "$BASE_URL" --model "$MODEL" --api-key-env "${API_KEY_ENV:-OPENAI_API_KEY}"
                 --concurrency "$CONCURRENCY")
  agent_backend=(--backend openai --base-url "$BASE_URL" --model "${AGENT_MODEL:-$MODEL}"
                 --api-key-env "${API_KEY_ENV:-OPENAI_API_KEY}" --concurrency "$CONCURRENCY" --judge llm)
else
  synth_backend=(--backend template)
  agent_backend=(--backend lexical)
fi

shards="$WORK/shards"
mkdir -p "$shards" "$CACHE_DIR"

# Ctrl-C, or SIGTERM (kill, scancel), stops every process this script started and waits
# for them, so none is left running. Every ltrl runs as a background child (in_background):
# bash runs a trap only once its foreground child has ended, and a script's background
# children ignore SIGINT, so each gets SIGTERM and ends with whole lines (exit 143). The
# script then exits 130 (SIGINT) or 143 (SIGTERM); the same command again resumes from
# the response caches.
running=()
stop() {
  trap '' INT TERM
  kill -TERM "${running[@]}" 2>/dev/null || true
  wait || true
  echo "batch-shards: stopped by SIG$1; run the same command again to resume" >&2
  if [[ $1 == INT ]]; then exit 130; else exit 143; fi
}
trap 'stop INT' INT
trap 'stop TERM' TERM

# in_background CMD...: run CMD as a background child and wait for it; its exit status is CMD's.
in_background() {
  "$@" <&0 &  # <&0: without it a background command reads /dev/null, not the caller's stdin
  running=($!)
  wait $!
}

# passing_term: in a shard's subshell (where the script's traps are reset), SIGTERM goes
# on to the stage it is running, and the subshell waits for it.
passing_term() {
  trap 'kill -TERM "${running[@]}" 2>/dev/null; wait; exit 143' TERM
}

# shard_stage NAME INPUT I CMD...: `CMD --shard I/N < INPUT` into $shards/NAME.I.jsonl,
# written as .partial and renamed when CMD succeeded.
shard_stage() {
  local name=$1 input=$2 i=$3; shift 3
  in_background "$@" --shard "$i/$N" --cache "$CACHE_DIR/$name.$i.sqlite" <"$input" >"$shards/$name.$i.jsonl.partial"
  mv "$shards/$name.$i.jsonl.partial" "$shards/$name.$i.jsonl"
}

# one_shard I: the model stages of shard I (its questions are exactly the ids of shard I).
one_shard() {
  shard_stage questions "$WORK/walks.jsonl" "$1" ltrl synth --index "$INDEX" "${synth_backend[@]}"
  shard_stage trajectories "$shards/questions.$1.jsonl" "$1" \
    ltrl search-agent --index "$INDEX" "${agent_backend[@]}" -k "${ROLLOUTS:-5}"
}

# all_shards: every shard here, in the background (each process opens its input itself: a
# shared file descriptor would split the lines between them); fails naming the shards that failed.
all_shards() {
  local pids=() i failed=0
  for ((i = 0; i < N; i++)); do
    (passing_term; one_shard "$i") 2>"$shards/shard.$i.log" &
    pids+=($!)
  done
  running=("${pids[@]}")
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "batch-shards: shard $i/$N failed; see $shards/shard.$i.log" >&2
      failed=1
    fi
  done
  ((failed == 0)) || exit 1
}

# join_shards NAME: the N shard files into $WORK/NAME.jsonl; a missing shard is named, not skipped.
join_shards() {
  local name=$1 i
  for ((i = 0; i < N; i++)); do
    [[ -f "$shards/$name.$i.jsonl" ]] || { echo "batch-shards: $shards/$name.$i.jsonl is missing: run shard $i (SHARD=$i)" >&2; exit 1; }
  done
  for ((i = 0; i < N; i++)); do cat "$shards/$name.$i.jsonl"; done >"$WORK/$name.jsonl.partial"
  mv "$WORK/$name.jsonl.partial" "$WORK/$name.jsonl"
  echo "$name: $(wc -l <"$WORK/$name.jsonl") records from $N shards" >&2
}

# The fast stages: once, over everything.
merge() {
  join_shards questions
  join_shards trajectories
  in_background ltrl tier <"$WORK/trajectories.jsonl" >"$WORK/tiered.jsonl"
  in_background ltrl assemble --index "$INDEX" --tokenizer "$TOKENIZER" --target-tokens "$TARGET" \
    --token-cache "$WORK/token-counts.sqlite" <"$WORK/tiered.jsonl" >"$WORK/train.jsonl.partial"
  mv "$WORK/train.jsonl.partial" "$WORK/train.jsonl"
  in_background ltrl stats <"$WORK/train.jsonl" >"$WORK/stats.json"
  in_background ltrl export --format slime -o "$WORK/train-slime.jsonl" <"$WORK/train.jsonl"
  in_background ltrl export --format verl -o "$WORK/train-verl.parquet" <"$WORK/train.jsonl"
  in_background ltrl export --format trl -o "$WORK/train-trl.parquet" <"$WORK/train.jsonl"
}

in_background ltrl check --tokenizer "$TOKENIZER" --index "$INDEX"  # before the slow stages, not after them
if [[ -n "${SHARD:-}" ]]; then
  [[ $SHARD =~ ^[0-9]+$ ]] && ((SHARD < N)) || { echo "batch-shards: SHARD=$SHARD is not in 0..$((N - 1))" >&2; exit 2; }
  one_shard "$SHARD"
elif [[ $MODE == merge ]]; then
  merge
else
  all_shards
  merge
fi
