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
exec "$bin" serve --data ./data "$@"
