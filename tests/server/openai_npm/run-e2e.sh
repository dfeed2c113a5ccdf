#!/usr/bin/env bash
# CTest entry for the openai npm end-to-end test: installs the pinned client, starts
# `wick serve` on a free port with the shared stories260K model, runs e2e.mjs against it, stops
# the server; then the structured-output checks (structured.mjs) against it and against a
# random-weight synthetic model.
#   run-e2e.sh WICK_BINARY SOURCE_DIR     (shared data: $WICK_SHARED, else SOURCE_DIR/../shared)
# Exit 77 (CTest: skipped) when Node.js/npm or the model are missing, or when the npm registry
# cannot be reached to install the client.
set -uo pipefail
wick=$1
model=${WICK_SHARED:-$2/../shared}/models/stories260K.gguf
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: Node.js and npm are needed for the openai npm client test" >&2
  exit 77
fi
if [[ ! -f $model ]]; then
  echo "SKIP: $model not found (set WICK_SHARED)" >&2
  exit 77
fi
if [[ ! -f $here/node_modules/openai/package.json ]]; then
  if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "SKIP: npm could not install the openai package (no registry?)" >&2
    exit 77
  fi
fi

# start_server MODEL ALIAS CTX: runs `wick serve` on a free port; sets pid, log and port.
start_server() {
  log=$(mktemp)
  "$wick" serve -m "$1" --alias "$2" --parallel 2 --ctx-size "$3" --port 0 2>"$log" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
  for _ in $(seq 1 300); do
    grep -q "ready:" "$log" && break
    if ! kill -0 $pid 2>/dev/null; then
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$log" | head -1)
  if [[ -z $port ]] || ! grep -q "ready:" "$log"; then
    echo "wick serve did not become ready:" >&2
    cat "$log" >&2
    exit 1
  fi
}

# stop_server: stops it; fails when it did not exit cleanly.
stop_server() {
  kill $pid
  wait $pid
  local server_status=$?
  if ((server_status != 0)); then
    echo "wick serve exited with $server_status:" >&2
    cat "$log" >&2
    exit 1
  fi
  rm -f "$log"
  trap - EXIT
}

start_server "$model" e2e 512
node "$here/e2e.mjs" "http://127.0.0.1:$port" e2e
status=$?
stop_server

# Room for the tool definitions in the prompt (stories260K's tokens are about a character).
start_server "$model" e2e 2048
STRUCTURED_SKIP=json_object node "$here/structured.mjs" "http://127.0.0.1:$port" e2e || status=1
stop_server

# Random weights: without the grammar this model writes noise.
synthetic=${WICK_SHARED:-$2/../shared}/models/synthetic/tiny2-q4_k_m.gguf
if [[ -f $synthetic ]]; then
  start_server "$synthetic" tiny2 2048
  node "$here/structured.mjs" "http://127.0.0.1:$port" tiny2 || status=1
  stop_server
fi
exit $status
