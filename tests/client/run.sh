#!/usr/bin/env bash
# The C++ client SDK end to end (docs/client-sdk.md): the real binary as
# server and as `corates-sync client ...` processes, auth on.
#   tests/client/run.sh                    (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/client/run.sh
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 170 "$@"
