#!/usr/bin/env bash
# Batch build: the slow (LLM) stages run as N independent processes, one per shard, then
# the shards are concatenated and the fast stages run once.
#
#   bash examples/batch-shards.sh WORK N              # WORK holds index/ and walks.jsonl
#   SHARDS_BACKEND=openai BASE_URL=http://gpu-node:8000/v1 MODEL=my-model \
#     bash examples/batch-shards.sh /data/ltrl-work 16
#
# `--shard I/N` keeps the records whose id hashes to shard I, the same on every machine,
# so shard I can run anywhere: here as background processes; on a cluster one Slurm
# array task per shard, e.g.
#   sbatch --array=0-15 --wrap 'ltrl synth --shard $SLURM_ARRAY_TASK_ID/16 ... < walks.jsonl > q.$SLURM_ARRAY_TASK_ID.jsonl'
# Each process has its own response cache file, so killed shards resume cheaply.
#
# SHARDS_BACKEND=offline (the default) uses the offline stand-ins (template writer,
# lexical agent), so the script can be tried on the demo's work dir:
#   bash examples/demo.sh && bash examples/batch-shards.sh work/demo 4
set -euo pipefail

WORK=${1:?usage: batch-shards.sh WORK N  (WORK holds walks.jsonl and an index directory)}
N=${2:-4}
INDEX=${INDEX:-$(ls -d "$WORK"/index*/ 2>/dev/null | head -1)}
INDEX=${INDEX%/}
[[ -f "$INDEX/COMPLETE" ]] || { echo "batch-shards: no complete index in $WORK (set INDEX=DIR)" >&2; exit 1; }
[[ -s "$WORK/walks.jsonl" ]] || { echo "batch-shards: $WORK/walks.jsonl is missing (run ltrl walk)" >&2; exit 1; }
TOKENIZER=${TOKENIZER:-tiktoken:o200k_base}
TARGET=${TARGET_TOKENS:-131072}
CACHE_DIR=${LTRL_CACHE_DIR:-$WORK/cache}

if [[ ${SHARDS_BACKEND:-offline} == openai ]]; then
  : "${BASE_URL:?set BASE_URL}" "${MODEL:?set MODEL}"
  synth_backend=(--backend openai --base-url "$BASE_URL" --model "$MODEL" --api-key-env "${API_KEY_ENV:-OPENAI_API_KEY}")
  agent_backend=(--backend openai --base-url "$BASE_URL" --model "${AGENT_MODEL:-$MODEL}"
                 --api-key-env "${API_KEY_ENV:-OPENAI_API_KEY}" --judge llm)
else
  synth_backend=(--backend template)
  agent_backend=(--backend lexical)
fi

shards="$WORK/shards"
mkdir -p "$shards" "$CACHE_DIR"

# run_shards NAME INPUT CMD...: runs `CMD --shard i/N < INPUT` for every i in the
# background, each writing $shards/NAME.i.jsonl, then concatenates them into
# $WORK/NAME.jsonl; fails if any shard fails, naming it. Each process opens INPUT itself
# (a shared file descriptor would split the lines between the processes).
run_shards() {
  local name=$1 input=$2; shift 2
  local pids=() i failed=0
  for ((i = 0; i < N; i++)); do
    "$@" --shard "$i/$N" --cache "$CACHE_DIR/$name.$i.sqlite" <"$input" >"$shards/$name.$i.jsonl" \
      2>"$shards/$name.$i.log" &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "batch-shards: $name shard $i/$N failed; see $shards/$name.$i.log" >&2
      failed=1
    fi
  done
  ((failed == 0)) || exit 1
  for ((i = 0; i < N; i++)); do cat "$shards/$name.$i.jsonl"; done >"$WORK/$name.jsonl"
  echo "$name: $(wc -l <"$WORK/$name.jsonl") records from $N shards" >&2
}

run_shards questions "$WORK/walks.jsonl" ltrl synth --index "$INDEX" "${synth_backend[@]}"
run_shards trajectories "$WORK/questions.jsonl" \
  ltrl search-agent --index "$INDEX" "${agent_backend[@]}" -k "${ROLLOUTS:-5}"

# Fast stages: once, over everything.
ltrl tier <"$WORK/trajectories.jsonl" >"$WORK/tiered.jsonl"
ltrl assemble --index "$INDEX" --tokenizer "$TOKENIZER" --target-tokens "$TARGET" \
  --token-cache "$WORK/token-counts.sqlite" <"$WORK/tiered.jsonl" >"$WORK/train.jsonl"
ltrl stats <"$WORK/train.jsonl" >"$WORK/stats.json"
