#!/usr/bin/env bash
# Contract tests against the real binary: served routes == contracts/openapi.json,
# live answers (success and error, open and with auth) validate against their
# schemas (ajv, JSON Schema 2020-12), and the pipeline's 404/405/413/415/400
# answers come in the error envelope.
#   tests/contracts/run.sh                 (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/contracts/run.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
[ -x "$bin" ] || { echo "tests/contracts: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }
export CORATES_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
"$CORATES_BIN" serve --help >/dev/null 2>&1 || { echo "tests/contracts: $CORATES_BIN has no 'serve' command"; exit 1; }

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
