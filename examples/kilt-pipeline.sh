#!/usr/bin/env bash
# The LongTraceRL data pipeline on the real KILT Wikipedia snapshot with real models:
#   index -> walk -> synth -> search-agent -> tier -> assemble -> stats -> export
# The commands are the demo's (examples/demo.sh); only the corpus and the backends change.
#
#   KILT=/data/kilt_knowledgesource.json \
#   BASE_URL=http://localhost:8000/v1 MODEL=Qwen/Qwen3-235B-A22B-Instruct-2507 \
#   bash examples/kilt-pipeline.sh /data/ltrl-work
#
# Any OpenAI-compatible endpoint works (vllm serve, SGLang, a hosted API, or the router in
# front of several of them: README, "Running on many machines"). The API key is read from
# the variable named by API_KEY_ENV (default OPENAI_API_KEY) and never printed. Any
# KILT-like corpus works too: pages without anchors get links from mentions of titles.
#
# Killed (Ctrl-C, a node lost, a Slurm time limit)? Run the same command again. Every LLM
# stage caches its responses in $LTRL_CACHE_DIR/llm.sqlite (default WORK/cache), so the
# rerun asks the endpoint only what had not been answered; the index is reused once
# complete; every other stage reruns (from the cache, in minutes). Each stage writes
# WORK/NAME.partial and renames it to WORK/NAME when it succeeds, so a file under its
# final name is always whole. For one process per shard, see examples/batch-shards.sh.
#
# Settings (environment):
#   KILT          the KILT knowledge-source file (JSONL, 5.9M pages, 35 GB; .gz is fine)
#   BASE_URL      endpoint of the question writer, the search agent and the judge
#   MODEL         model of the question writer (the paper used a strong LLM)
#   AGENT_MODEL   model of the search agent [MODEL]
#   JUDGE_MODEL   model judging the agent's answers [MODEL]
#   API_KEY_ENV   name of the variable that holds the API key [OPENAI_API_KEY]
#   WALKS         questions to try [3000]; about 2,815 survive in the paper's release
#   HOPS          pages in a walk after the first [8]
#   ROLLOUTS      search-agent rollouts per question [5]
#   TOKENIZER     the tokenizer of the model you will train [Qwen/Qwen3-4B-Thinking-2507]
#   TARGET_TOKENS prompt length [131072]
#   CONCURRENCY   requests in flight per stage [32]
#   THREADS       Lucene indexing threads [8]
#   SEED          seed of the walks and the contexts [0]
#   LTRL_CACHE_DIR  where the response cache lives [WORK/cache]
set -euo pipefail

WORK=${1:-work/kilt}
: "${KILT:?set KILT to the KILT knowledge-source file (kilt_knowledgesource.json)}"
: "${BASE_URL:?set BASE_URL to an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1}"
: "${MODEL:?set MODEL to the model name the endpoint serves}"
AGENT_MODEL=${AGENT_MODEL:-$MODEL}
JUDGE_MODEL=${JUDGE_MODEL:-$MODEL}
API_KEY_ENV=${API_KEY_ENV:-OPENAI_API_KEY}
WALKS=${WALKS:-3000}
HOPS=${HOPS:-8}
ROLLOUTS=${ROLLOUTS:-5}
TOKENIZER=${TOKENIZER:-Qwen/Qwen3-4B-Thinking-2507}
TARGET=${TARGET_TOKENS:-131072}
CONCURRENCY=${CONCURRENCY:-32}
THREADS=${THREADS:-8}
SEED=${SEED:-0}
export LTRL_CACHE_DIR=${LTRL_CACHE_DIR:-$WORK/cache}

mkdir -p "$WORK"
index="$WORK/index"
llm=(--backend openai --base-url "$BASE_URL" --api-key-env "$API_KEY_ENV" --concurrency "$CONCURRENCY")
step() { printf '\n== %s\n' "$*" >&2; }
# into FILE CMD...: CMD's stdout to FILE.partial, renamed to FILE once CMD succeeded.
into() { local out=$1; shift; "$@" >"$out.partial"; mv "$out.partial" "$out"; }

# ~55 min for the full snapshot on an idle machine of 2 or more cores (one Python process is
# the bound, ~0.5 ms of its CPU a page; more cores or --threads do not shorten it), 4-6 GB of
# RAM, ~31 GB of disk for the index (~70 GB free with the source): measured to 1M pages in
# docs/performance.md, "What the curve means for KILT".
step "index: streams $KILT (~1 hour for the full snapshot; reused once COMPLETE)"
# Without --force: a build that was stopped resumes from its last checkpoint (every 250,000 pages).
[[ -f "$index/COMPLETE" ]] || ltrl index "$KILT" -o "$index" --threads "$THREADS"

# The tokenizer is fetched once (the only download); fail here rather than after the LLM stages.
ltrl check --tokenizer "$TOKENIZER" --allow-download --index "$index"

step "walk: $WALKS controlled random walks of $HOPS hops"
into "$WORK/walks.jsonl" ltrl walk --index "$index" -n "$WALKS" --hops "$HOPS" --seed "$SEED"

step "synth: multi-hop questions and gold entities ($MODEL)"
into "$WORK/questions.jsonl" ltrl synth --index "$index" "${llm[@]}" --model "$MODEL" <"$WORK/walks.jsonl"

step "search-agent: $ROLLOUTS rollouts per question ($AGENT_MODEL), judged by $JUDGE_MODEL"
into "$WORK/trajectories.jsonl" ltrl search-agent --index "$index" "${llm[@]}" --model "$AGENT_MODEL" \
  -k "$ROLLOUTS" --judge llm --judge-model "$JUDGE_MODEL" <"$WORK/questions.jsonl"

step "tier: Tier-1 (opened, not cited) and Tier-2 (seen, never opened) distractors"
into "$WORK/tiered.jsonl" ltrl tier <"$WORK/trajectories.jsonl"

step "assemble: $TARGET-token contexts counted with $TOKENIZER"
into "$WORK/train.jsonl" ltrl assemble --index "$index" --tokenizer "$TOKENIZER" --target-tokens "$TARGET" \
  --seed "$SEED" --token-cache "$WORK/token-counts.sqlite" <"$WORK/tiered.jsonl"

step "stats"
into "$WORK/stats.json" ltrl stats --plot "$WORK/stats.png" <"$WORK/train.jsonl"

step "export: slime (the paper's trainer), verl, TRL"
ltrl export --format slime -o "$WORK/train-slime.jsonl" <"$WORK/train.jsonl"
ltrl export --format verl -o "$WORK/train-verl.parquet" <"$WORK/train.jsonl"
ltrl export --format trl -o "$WORK/train-trl.parquet" <"$WORK/train.jsonl"
echo "kilt-pipeline: $(wc -l <"$WORK/train.jsonl") training records in $WORK" >&2
