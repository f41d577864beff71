#!/usr/bin/env bash
# The README's first command: install, build, run corates-sync.
# Until the server lands this shows the CLI and a demo of the update tools on a trace.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release
bin=build/bin/corates-sync
"$bin" --help
if [ -x scripts/demo-update-tools.sh ]; then
  ./scripts/demo-update-tools.sh
fi
