#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time (FUZZ_SECONDS each, default 20)
# on a scratch copy of its seed corpus, with ASan+UBSan (the asan preset builds them with clang and libFuzzer). A crash fails the suite;
# the crashing input is left in build-asan/artifacts/ to be added as a named regression.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-20}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/corates-sync-ccache}" CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset asan >/dev/null && cmake --build --preset asan -- -j"$(nproc)" >/dev/null || {
  echo "fuzz build failed"; echo "0 passed, 1 failed"; exit 1; }
passed=0; failed=0
mkdir -p build-asan/artifacts
for bin in build-asan/bin/fuzz_*; do
  name=$(basename "$bin")
  work=$(mktemp -d)
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
  if "$bin" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="build-asan/artifacts/$name-" -print_final_stats=0 >"build-asan/$name.log" 2>&1; then
    echo "fuzz $name: ok ($(grep -c . "build-asan/$name.log") log lines, ${seconds}s)"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED"; tail -40 "build-asan/$name.log"
    failed=$((failed + 1))
  fi
  rm -rf "$work"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
