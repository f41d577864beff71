#!/usr/bin/env bash
# The operation queue end to end (docs/ops.md): real binary, real Node
# clients over HTTP, open mode (CORATES_AUTH_REQUIRED=false).
#   tests/ops/run.sh                    (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/ops/run.sh
#   SEED=n tests/ops/run.sh             (seed of the exactly-once run; printed)
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 170 "$@"
