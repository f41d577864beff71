#!/usr/bin/env bash
# Integration tests of `corates-sync serve` with real yjs, y-websocket 3.x and
# ws clients against the real binary (loopback, free ports, temp data dirs).
#   tests/server/run.sh                 (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/server/run.sh
#   SEED=n tests/server/run.sh          (seed of the random edits)
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 180 "$@"
