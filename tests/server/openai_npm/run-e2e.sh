#!/usr/bin/env bash
# CTest entry for the openai npm end-to-end test: installs the pinned client, starts
# `wick serve` on a free port with the shared stories260K model, runs e2e.mjs against it, stops
# the server.
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

log=$(mktemp)
"$wick" serve -m "$model" --alias e2e --parallel 2 --ctx-size 512 --port 0 2>"$log" &
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
node "$here/e2e.mjs" "http://127.0.0.1:$port" e2e
status=$?
kill $pid
wait $pid
server_status=$?
if ((server_status != 0)); then
  echo "wick serve exited with $server_status:" >&2
  cat "$log" >&2
  exit 1
fi
exit $status
