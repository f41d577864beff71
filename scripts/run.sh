#!/usr/bin/env bash
# The README's first command: install, build, show the offline update tools on a
# trace, then run the server on the embedded default (SQLite under ./data).
# Arguments are passed to `corates-sync serve` (e.g. --listen 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
bin=build/bin/corates-sync
if [ -x scripts/demo-update-tools.sh ]; then
  ./scripts/demo-update-tools.sh || echo "(demo of the update tools failed; continuing to the server)"
fi
# With auth on (the default), print a ready session token and a one-line
# Node client (yjs + y-websocket from node_modules) before the server starts.
data=./data listen=127.0.0.1:8080 auth=true
prev=""
for a in "$@"; do
  case "$prev" in --data) data="$a" ;; --listen) listen="$a" ;; --auth-required) auth="$a" ;; esac
  case "$a" in --data=*) data="${a#--data=}" ;; --listen=*) listen="${a#--listen=}" ;; --auth-required=*) auth="${a#--auth-required=}" ;; esac
  prev="$a"
done
[ -n "${CORATES_AUTH_REQUIRED:-}" ] && [ "$auth" = true ] && auth="$CORATES_AUTH_REQUIRED"
if [ "$auth" = true ] || [ "$auth" = 1 ] || [ "$auth" = yes ]; then
  token="$("$bin" token --user demo --data "$data")"
  echo
  echo "Session token for user 'demo' (owns the documents it opens first; docs/auth.md):"
  echo "  $token"
  echo "Connect from Node (in this folder):"
  echo "  node --input-type=module -e \"import * as Y from 'yjs'; import {WebsocketProvider} from 'y-websocket'; import WebSocket from 'ws'; const d = new Y.Doc(); const p = new WebsocketProvider('ws://$listen/ws', 'demo', d, {params: {token: '$token'}, WebSocketPolyfill: WebSocket}); p.on('sync', () => { d.getText('t').insert(0, 'hello '); console.log('synced:', d.getText('t').toString()); setTimeout(() => process.exit(0), 500) })\""
  echo "HTTP: curl -H 'Authorization: Bearer $token' http://$listen/api/session"
  echo
fi
exec "$bin" serve --data "$data" "$@"
