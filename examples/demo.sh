#!/usr/bin/env bash
# The whole LongTraceRL data pipeline on the embedded demo corpus, offline:
#   corpus -> index -> walk -> synth (template) -> search-agent (lexical) -> tier
#   -> assemble -> stats -> report
# No GPU, no model endpoint: the question writer, the search agent and the judge are the
# offline stand-ins, and every record they produce says so. About 2-4 minutes on a
# 2-core machine with the defaults.
#
#   bash examples/demo.sh                 # work dir ./work/demo
#   bash examples/demo.sh /tmp/ltrl-demo  # elsewhere
#   DEMO_TARGET_TOKENS=32768 DEMO_WALKS=50 bash examples/demo.sh   # smaller and faster
#
# Settings (environment): DEMO_PAGES (3000), DEMO_WALKS (150), DEMO_HOPS (8),
# DEMO_ROLLOUTS (5), DEMO_STEPS (60, turns per rollout), DEMO_TARGET_TOKENS (131072),
# DEMO_TOKENIZER (tiktoken:o200k_base), DEMO_SEED (0). The corpus and its index are reused when already complete; every other
# stage is rerun, each writing its own file in the work dir, so any one of them can be
# inspected (`head -1 work/demo/tiered.jsonl | jq .tiers`) or rerun by hand.
set -euo pipefail

WORK=${1:-${DEMO_WORK:-work/demo}}
PAGES=${DEMO_PAGES:-3000}
WALKS=${DEMO_WALKS:-150}
HOPS=${DEMO_HOPS:-8}
ROLLOUTS=${DEMO_ROLLOUTS:-5}
STEPS=${DEMO_STEPS:-60}
TARGET=${DEMO_TARGET_TOKENS:-131072}
TOKENIZER=${DEMO_TOKENIZER:-tiktoken:o200k_base}
SEED=${DEMO_SEED:-0}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# tiktoken downloads its encodings on first use; a checkout next to the shared data
# (../shared/data/tiktoken) has them already, which keeps the demo fully offline.
if [[ -z "${TIKTOKEN_CACHE_DIR:-}" && -d "$here/../../shared/data/tiktoken" ]]; then
  TIKTOKEN_CACHE_DIR=$(cd "$here/../../shared/data/tiktoken" && pwd)
  export TIKTOKEN_CACHE_DIR
fi
# The demo never needs a model hub or an API key.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

command -v ltrl >/dev/null || { echo "demo: ltrl is not on PATH (run: make demo, or pip install -e .)" >&2; exit 1; }
mkdir -p "$WORK"
step() { printf '\n== %s\n' "$*" >&2; }
started=$SECONDS

step "corpus: $PAGES synthetic pages"
corpus="$WORK/corpus-$PAGES-s$SEED.jsonl.gz"
if [[ -s "$corpus" ]]; then
  echo "reusing $corpus" >&2
else
  ltrl corpus demo --pages "$PAGES" --seed "$SEED" -o "$corpus"  # written whole or not at all
fi

step "index: Lucene BM25 + link graph"
index="$WORK/index-$PAGES-s$SEED"
if [[ -f "$index/COMPLETE" ]]; then
  echo "reusing $index" >&2
else
  ltrl index "$corpus" -o "$index" --force
fi

# Fail now, not after the slow stages, if the tokenizer cannot be loaded (`ltrl check`
# loads it and says what it loaded). Without the shared tiktoken files and without
# network, the default falls back to a BPE tokenizer trained on the demo corpus itself
# (labelled in metadata.tokenizer of every record).
if ! ltrl check --tokenizer "$TOKENIZER"; then
  [[ -z "${DEMO_TOKENIZER:-}" ]] || exit 1  # a tokenizer the user named: no silent substitute
  echo "$TOKENIZER is not available offline; counting tokens with a BPE trained on the demo corpus instead" >&2
  TOKENIZER="$WORK/demo-bpe-$PAGES-s$SEED.json"
  [[ -s "$TOKENIZER" ]] || ltrl corpus tokenizer "$corpus" -o "$TOKENIZER" --force
fi
echo "tokens are counted with $TOKENIZER" >&2

step "walk: $WALKS random walks of $HOPS hops"
ltrl walk --index "$index" -n "$WALKS" --hops "$HOPS" --seed "$SEED" >"$WORK/walks.jsonl"

step "synth: questions from the walks (offline template writer)"
ltrl synth --index "$index" --backend template <"$WORK/walks.jsonl" >"$WORK/questions.jsonl"

# An 8-hop chain takes the policy 30-50 turns (two searches a hop, the candidates it
# cannot rule out, going back from dead branches); its notes count as completion tokens.
step "search-agent: $ROLLOUTS rollouts per question, up to $STEPS turns each (offline lexical policy)"
ltrl search-agent --index "$index" --backend lexical -k "$ROLLOUTS" --seed "$SEED" --max-steps "$STEPS" \
  --max-rollout-tokens 131072 <"$WORK/questions.jsonl" >"$WORK/trajectories.jsonl"

step "tier: distractor tiers from the correct rollouts"
ltrl tier <"$WORK/trajectories.jsonl" >"$WORK/tiered.jsonl"

step "assemble: $TARGET-token contexts ($TOKENIZER), traj-tiered and, for comparison, random"
for strategy in traj-tiered random; do
  ltrl assemble --index "$index" --tokenizer "$TOKENIZER" --target-tokens "$TARGET" --strategy "$strategy" \
    --seed "$SEED" --token-cache "$WORK/token-counts.sqlite" <"$WORK/tiered.jsonl" >"$WORK/train-$strategy.jsonl"
done
cp "$WORK/train-traj-tiered.jsonl" "$WORK/train.jsonl"

step "stats: what the contexts are made of, and how often each tier mentions a gold entity (paper: traj-tiered 50.03%, random 1.35%)"
cat "$WORK/train-traj-tiered.jsonl" "$WORK/train-random.jsonl" \
  | ltrl stats --plot "$WORK/stats.png" >"$WORK/stats.json"

step "report: one HTML page of questions, chains, rollouts, tiers and contexts"
ltrl report "$WORK/trajectories.jsonl" "$WORK/tiered.jsonl" "$WORK/train-traj-tiered.jsonl" "$WORK/train-random.jsonl" \
  "$WORK/stats.json" --index "$index" --title "ltrl demo ($PAGES pages, $WALKS walks)" -o "$WORK/report.html"

cat >&2 <<EOF

Done in $((SECONDS - started))s. In $WORK:
  train.jsonl    $(wc -l <"$WORK/train.jsonl") training records (the released dataset's layout)
  stats.json     the figures above as JSON; stats.png their histogram
  report.html    open it in a browser: $(cd "$WORK" && pwd)/report.html
Next: ltrl export --format verl -o $WORK/train.parquet < $WORK/train.jsonl
EOF
