#!/usr/bin/env bash
# Sessions and access control against the real binary with auth on: the
# authorization matrix (every route and the WebSocket endpoint x anonymous,
# expired, revoked, viewer, editor, owner), live revocation and role changes,
# JWT exchange and sign-in throttling, with real yjs, y-websocket and ws clients.
#   tests/auth/run.sh                 (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/auth/run.sh
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 180 "$@"
