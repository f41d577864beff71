#!/usr/bin/env bash
# The shared runner of the Node suites (tests/<suite>/run.sh call it): runs
# every tests/<suite>/*.mjs except lib.mjs against the real binary, one file
# at a time with a timeout, and counts the PASS/FAIL lines they print.
#   tests/node-suite.sh SUITE_DIR [TIMEOUT_SECONDS [FILE.mjs...]]  (files: only those,
#   quarantined or not; the wrappers pass their arguments, e.g. tests/ops/run.sh api.mjs)
# Environment: CORATES_BIN (default build/bin/corates-sync), SEED (passed on
# to the tests that take one), RUN_QUARANTINED=1 (also run the files listed
# in SUITE_DIR/quarantined.txt, one "file reason" per line).
set -uo pipefail
here="$(cd "$1" && pwd)"
per_file_timeout="${2:-180}"
shift $(($# < 2 ? $# : 2))
suite="$(basename "$here")"
root="$(cd "$here/../.." && pwd)"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
[ -x "$bin" ] || { echo "tests/$suite: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }
export CORATES_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
"$CORATES_BIN" serve --help >/dev/null 2>&1 || { echo "tests/$suite: $CORATES_BIN has no 'serve' command"; exit 1; }

passed=0
failed=0
files=("$here"/*.mjs)
if [ $# -gt 0 ]; then
  files=()
  for f in "$@"; do
    [ -f "$here/$(basename "$f")" ] || { echo "tests/$suite: no test file $(basename "$f")"; exit 2; }
    files+=("$here/$(basename "$f")")
  done
fi
for t in "${files[@]}"; do
  name="$(basename "$t")"
  [ "$name" = lib.mjs ] && continue
  reason="$(grep "^$name " "$here/quarantined.txt" 2>/dev/null | cut -d' ' -f2-)"
  if [ -n "$reason" ] && [ -z "${RUN_QUARANTINED:-}" ] && [ $# -eq 0 ]; then
    echo "== $name: SKIPPED (quarantined: $reason)"
    continue
  fi
  echo "== $name"
  out="$(cd "$root" && timeout "$per_file_timeout" node "$t" 2>&1)"
  status=$?
  echo "$out"
  p=$(grep -c '^PASS ' <<<"$out")
  f=$(grep -c '^FAIL ' <<<"$out")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ $status -ne 0 ] && [ "$f" -eq 0 ]; then
    failed=$((failed + 1))
    if [ $status -eq 124 ]; then echo "FAIL $name: timed out after $per_file_timeout s"; else echo "FAIL $name: exit status $status"; fi
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
