#!/usr/bin/env bash
# Stock y-websocket in headless Chromium (Debian's chromium, puppeteer-core)
# against the real binary, with a Node client alongside.
#   tests/browser/run.sh                (uses build/bin/corates-sync)
#   CORATES_BIN=path/to/binary tests/browser/run.sh
#   CHROMIUM=/path/to/chromium tests/browser/run.sh
exec "$(dirname "$0")/../node-suite.sh" "$(dirname "$0")" 120 "$@"
