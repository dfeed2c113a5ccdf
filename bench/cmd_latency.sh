#!/usr/bin/env bash
# `wick cmd` latency from process start: a qwen2-1.5b Q4_K synthetic model (random weights,
# the shared deepseek-llm vocabulary padded to Qwen2's 151936 tokens), a request of about 20
# tokens, 30 output tokens. The first run evaluates and saves the system prompt's KV state; the
# runs after it restore it. Random weights never close the JSON string, so each run stops at
# the 30-token limit with an error: what is measured is the time to those 30 tokens.
#
#   bench/cmd_latency.sh [WICK_BINARY] [RUNS]     (model and state cache in a temp folder)
set -euo pipefail
wick=${1:-build/release/wick}
runs=${2:-5}
shared=${WICK_SHARED:-$(dirname "$0")/../../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export WICK_CACHE_DIR=$work/cache

"$wick" synth --preset qwen2-1.5b --type Q4_K \
  --vocab-from "$shared/vocab/ggml-vocab-deepseek-llm.gguf" -o "$work/qwen2-1.5b-q4_k.gguf" >&2
request="find files over 100MB changed this week in my home directory and sort them by size"
for i in $(seq 0 "$runs"); do
  start=$(date +%s.%N)
  timing=$("$wick" cmd -m "$work/qwen2-1.5b-q4_k.gguf" --dry-run --timings -n 30 "$request" \
    2>&1 >/dev/null | grep '^wick: load' || true)
  end=$(date +%s.%N)
  label=$([[ $i == 0 ]] && echo "first (saves state)" || echo "run $i")
  printf '%-20s wall %.2f s  %s\n' "$label" "$(awk "BEGIN { print $end - $start }")" "${timing#wick: }"
done
