#!/usr/bin/env bash
# Tests `corates-sync update ...` against real Yjs: make_fixtures.mjs builds
# updates with Yjs and records Yjs's own results; every case runs the binary
# and compares (bytes, JSON, inspect summary) or expects a clean bad-input exit.
#   tests/cli/run.sh            (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/corates-sync tests/cli/run.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${CORATES_BIN:-$root/build/bin/corates-sync}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "tests/cli: no binary at $bin (build first, or set CORATES_BIN)"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && node "$here/make_fixtures.mjs" "$tmp/fx") >/dev/null || { echo "tests/cli: fixture generation failed"; exit 1; }
cd "$tmp/fx"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1: $2"; }

# Help documents every subcommand and option.
help="$("$bin" --help 2>&1)"
for word in "update encode" "update merge" "--list" "update diff" "--state-vector" "update state-vector" \
            "update convert" "update to-json" "--type" "--delta" "update inspect" "--json" "--v2" "--out-v2" "--no-gc"; do
  if grep -q -e "$word" <<<"$help"; then pass; else fail "--help" "does not mention $word"; fi
done
for sub in encode merge diff state-vector convert to-json inspect; do
  if "$bin" update "$sub" --help >/dev/null 2>&1; then pass; else fail "update $sub --help" "exit status $?"; fi
done

while IFS=$'\t' read -r -a f; do
  name="${f[0]}"; mode="${f[1]}"; expected="${f[2]}"
  args=(); stdin=/dev/null; out="$tmp/stdout"; rm -f "$tmp/out.bin"
  for a in "${f[@]:3}"; do
    case "$a" in
      @OUT) args+=("$tmp/out.bin"); out="$tmp/out.bin" ;;
      \<*) stdin="${a:1}" ;;
      *) args+=("$a") ;;
    esac
  done
  # A hang is a failure, not a stuck suite.
  timeout 60 "$bin" update "${args[@]}" <"$stdin" >"$tmp/stdout" 2>"$tmp/stderr"
  rc=$?
  if [ $rc -eq 124 ]; then fail "$name" "timed out after 60 s"; continue; fi
  if [ "$mode" = bad ]; then
    lines=$(wc -l <"$tmp/stderr")
    if [ $rc -ne 2 ]; then fail "$name" "exit status $rc, want 2 ($(head -c 200 "$tmp/stderr"))"
    elif [ "$lines" -ne 1 ] || ! grep -q '^corates-sync: ' "$tmp/stderr"; then
      fail "$name" "stderr should be one line 'corates-sync: ...', got $lines: $(head -c 200 "$tmp/stderr")"
    elif [ -s "$tmp/stdout" ]; then fail "$name" "wrote to stdout on failure"
    else pass; fi
    continue
  fi
  if [ $rc -ne 0 ]; then fail "$name" "exit status $rc: $(head -c 300 "$tmp/stderr")"; continue; fi
  case "$mode" in
    bytes)
      if cmp -s "$out" "$expected"; then pass
      else fail "$name" "differs from Yjs ($(stat -c %s "$out") bytes vs $(stat -c %s "$expected"); $(cmp "$out" "$expected" 2>&1 | head -1))"; fi ;;
    json|inspect)
      if msg="$(node "$here/compare.mjs" "$mode" "$out" "$expected")"; then pass; else fail "$name" "$msg"; fi ;;
  esac
done <cases.tsv

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
