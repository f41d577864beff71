#!/usr/bin/env bash
# Durable op ingestion on SQLite through POST /api/sync/ops: batches of 1, 10
# and 100 ops, 1/4/16 concurrent clients; ops/s and request latency (p50,
# p99). Writes bench/results/ops-latest.md.
#   bench/ops/run.sh [--seconds N] [--batches 1,10,100] [--clients 1,4,16]
# Uses CORATES_BIN, else build/bin/corates-sync (release preset; built if missing).
# The load generator runs on the same machine and takes CPU from the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=5; batches=1,10,100; clients=1,4,16
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --batches) batches="$2"; shift ;;
    --clients) clients="$2"; shift ;;
    *) echo "bench/ops/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
bin="${CORATES_BIN:-build/bin/corates-sync}"
if [ ! -x "$bin" ]; then
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/corates-sync-ccache}"
  cmake --preset release >/dev/null
  cmake --build --preset release --target corates-sync >/dev/null
  bin=build/bin/corates-sync
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
CORATES_AUTH_REQUIRED=false CORATES_RATE_USER_OPS=off CORATES_RATE_IP_OPS=off CORATES_LOG_LEVEL=warn \
  "$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$tmp/out" 2>/dev/null && break
  sleep 0.1
done
url="$(grep -o 'http://[0-9.:]*' "$tmp/out" | head -1)"
[ -n "$url" ] || { echo "server did not start: $(cat "$tmp/err")" >&2; exit 1; }

node bench/ops/load.mjs --url "$url" --seconds "$seconds" --batches "$batches" --clients "$clients" | tee "$tmp/results.jsonl"

mkdir -p bench/results
{
  echo "# Op ingestion: POST /api/sync/ops (durable: WAL, synchronous=FULL)"
  echo
  echo "Command: \`bench/ops/run.sh --seconds $seconds --batches $batches --clients $clients\`, $(date -u +%Y-%m-%dT%H:%MZ),"
  echo "$(nproc) cores ($(uname -m)), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Op type todo.add (one INSERT plus the op's record and change-log row); the Node load generator runs on"
  echo "the same machine. Latency is per request (one batch). Every op counted was answered \`applied\`."
  echo
  echo "| ops per batch | clients | ops/s | requests | p50 ms | p99 ms | errors |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse)
    for (const r of lines) console.log(`| ${r.batch} | ${r.clients} | ${r.opsPerSec} | ${r.requests} | ${r.p50ms} | ${r.p99ms} | ${r.errors} |`)
  ' "$tmp/results.jsonl"
  echo
  echo "Target (issue 5): at least 20,000 durably applied ops/s on 2 cores with batches of 100."
} >bench/results/ops-latest.md
cat bench/results/ops-latest.md
