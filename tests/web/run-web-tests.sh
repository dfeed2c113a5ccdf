#!/usr/bin/env bash
# CTest entry for the real-browser tests (headless Chromium through playwright-core): the wasm
# engine against the native one and the golden files (golden.test.mjs), its logits for every
# golden model and quant type (kernels.test.mjs), the matmul kernels on their own
# (wasm_kernels.test.mjs, with build/wasm-test's module), the chat page in
# in-browser mode (page.test.mjs) and the page served by `wick serve` (server.test.mjs).
#   run-web-tests.sh WICK_BINARY SOURCE_DIR
# Shared data: $WICK_SHARED, else SOURCE_DIR/../shared. Engine: $WICK_WASM_DIR, else
# SOURCE_DIR/build/wasm (made by scripts/build-wasm). Screenshots: $WICK_WEB_ARTIFACTS, else
# SOURCE_DIR/build/web-test.
# Exit 77 (CTest: skipped) when Node.js/npm, /usr/bin/chromium, the model or the engine are
# missing, or when npm cannot install playwright-core; with CI set (CI=true) each of those is a
# failure instead, because CI must run these tests.
set -uo pipefail
if (($# != 2)); then
  echo "usage: $0 WICK_BINARY SOURCE_DIR" >&2
  exit 2
fi
wick=$(realpath -m "$1")
source_dir=$(realpath "$2")
shared=$(realpath "${WICK_SHARED:-$source_dir/../shared}")
wasm_dir=$(realpath -m "${WICK_WASM_DIR:-$source_dir/build/wasm}")
wasm_test_dir=$(realpath -m "${WICK_WASM_TEST_DIR:-$source_dir/build/wasm-test}")
here=$(cd "$(dirname "$0")" && pwd)

missing() {
  case ${CI:-} in
    '' | 0 | false)
      echo "SKIP: $*" >&2
      exit 77
      ;;
  esac
  echo "FAIL: $* (CI is set, so the browser tests may not be skipped)" >&2
  exit 1
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing "Node.js and npm are needed for the browser tests"
fi
[[ -x /usr/bin/chromium ]] || missing "/usr/bin/chromium not found (apt-get install chromium)"
[[ -f $shared/models/stories260K.gguf ]] ||
  missing "$shared/models/stories260K.gguf not found (set WICK_SHARED)"
[[ -f $wasm_dir/wick-st.js ]] ||
  missing "$wasm_dir/wick-st.js not found: build the engine with scripts/build-wasm (or set WICK_WASM_DIR)"
[[ -f $wasm_test_dir/wick-matmul-test.js ]] ||
  missing "$wasm_test_dir/wick-matmul-test.js not found: scripts/build-wasm builds it (or set WICK_WASM_TEST_DIR)"
if [[ ! -f $here/node_modules/playwright-core/package.json ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
    missing "npm could not install playwright-core (no registry?)"
fi
if [[ ! -x $wick ]]; then
  echo "FAIL: $wick is not an executable" >&2
  exit 1
fi

export WICK_BINARY=$wick WICK_SOURCE_DIR=$source_dir WICK_SHARED=$shared WICK_WASM_DIR=$wasm_dir
export WICK_WASM_TEST_DIR=$wasm_test_dir
export WICK_WEB_ARTIFACTS=${WICK_WEB_ARTIFACTS:-$source_dir/build/web-test}
rm -f "$WICK_WEB_ARTIFACTS"/fail-*.png # a failed check's screenshot is from this run only

status=0
failed=()
for t in golden kernels wasm_kernels page server; do
  echo "== $t.test.mjs"
  if ! node "$here/$t.test.mjs"; then
    status=1
    failed+=("$t")
  fi
done
if ((status)); then
  echo "browser tests FAILED: ${failed[*]}" >&2
else
  echo "browser tests passed"
fi
exit $status
