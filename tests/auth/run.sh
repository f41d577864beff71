#!/usr/bin/env bash
# Sessions and access control against the real binary with auth on: the
# authorization matrix (every route and the WebSocket endpoint x anonymous,
# expired, revoked, viewer, editor, owner), live revocation and role changes,
# JWT exchange and sign-in throttling, with real yjs, y-websocket and ws clients.
#   tests/auth/run.sh                 (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/auth/run.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
[ -x "$bin" ] || { echo "tests/auth: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }
export CORATES_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
"$CORATES_BIN" serve --help >/dev/null 2>&1 || { echo "tests/auth: $CORATES_BIN has no 'serve' command"; exit 1; }

passed=0
failed=0
for t in "$here"/*.mjs; do
  [ "$(basename "$t")" = lib.mjs ] && continue
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
