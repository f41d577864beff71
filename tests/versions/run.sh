#!/usr/bin/env bash
# Version negotiation and rate limits against the real binary (issue 4): the
# version matrix (too old, deprecated, current, missing, not SemVer) over HTTP
# and WebSocket, config reload on SIGHUP (raising the minimum closes old live
# sockets with 4426; a bad file is refused), 429/4429 and recovery.
#   tests/versions/run.sh                (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/versions/run.sh
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 180 "$@"
