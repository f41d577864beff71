#!/usr/bin/env bash
# The README's second command: install, build, and run every test suite.
# Builds the release preset (GCC: unit tests, conformance, CLI and server suites) and the
# asan preset (clang, ASan+UBSan: unit tests, fuzz corpora, libFuzzer runs), then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/corates-sync-ccache}" CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
export CTEST_PARALLEL_LEVEL="$(nproc)"

./scripts/build.sh release
./scripts/build.sh asan

status=0
# Each step prints its wall time, so CI's time budget can be followed.
run() {
  local t0=$SECONDS
  echo "== $*"
  "$@" || { echo "FAILED: $*"; status=1; }
  echo "== $*: $((SECONDS - t0)) s"
}

# Contract drift (openapi.json, TypeScript types), redocly lint, documented error codes.
run ./scripts/check-contracts.sh

run ctest --test-dir build --output-on-failure --timeout 600 -j"$(nproc)"
run ctest --test-dir build-asan --output-on-failure --timeout 900 -j"$(nproc)"
for suite in tests/*/run.sh; do
  [ -x "$suite" ] && run "$suite"
done
echo "== all tests: $SECONDS s"
exit $status
