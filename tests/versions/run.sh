#!/usr/bin/env bash
# Version negotiation and rate limits against the real binary (issue 4): the
# version matrix (too old, deprecated, current, missing, not SemVer) over HTTP
# and WebSocket, config reload on SIGHUP (raising the minimum closes old live
# sockets with 4426; a bad file is refused), 429/4429 and recovery.
#   tests/versions/run.sh                (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/versions/run.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
[ -x "$bin" ] || { echo "tests/versions: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }
export CORATES_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

passed=0
failed=0
for t in "$here"/*.mjs; do
  echo "== $(basename "$t")"
  out="$(cd "$root" && timeout 180 node "$t" 2>&1)"
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
