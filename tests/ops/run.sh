#!/usr/bin/env bash
# The operation queue end to end (docs/ops.md): real binary, real Node
# clients over HTTP, open mode (CORATES_AUTH_REQUIRED=false).
#   tests/ops/run.sh                    (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/ops/run.sh
#   SEED=n tests/ops/run.sh             (seed of the exactly-once run; printed)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
[ -x "$bin" ] || { echo "tests/ops: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }
export CORATES_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

passed=0
failed=0
for t in "$here"/*.mjs; do
  [ "$(basename "$t")" = lib.mjs ] && continue
  echo "== $(basename "$t")"
  out="$(cd "$root" && timeout 170 node "$t" 2>&1)"
  status=$?
  echo "$out"
  p=$(grep -c '^PASS ' <<<"$out")
  f=$(grep -c '^FAIL ' <<<"$out")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ $status -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1)); echo "FAIL $(basename "$t"): exit status $status"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
