#!/usr/bin/env bash
# Runs the trace benchmarks on both sides, Yjs in Node then corates-sync's
# crdt_bench on the very same update bytes, and prints the comparison table,
# also written to bench/results/latest.md.
#   bench/run.sh [--quick] [--trace NAME]... [--merge-budget SECONDS]
# Builds crdt_bench with the release preset unless CORATES_BENCH_BIN is set.
# Full run: a few minutes (Yjs's merge search dominates); --quick: about one.
set -euo pipefail
cd "$(dirname "$0")/.."

common=()
node_only=()
while (($#)); do
  case "$1" in
    --quick) common+=(--quick) ;;
    --trace) common+=(--trace "$2"); shift ;;
    --merge-budget) node_only+=(--merge-budget "$2"); shift ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

bin="${CORATES_BENCH_BIN:-}"
if [ -z "$bin" ]; then
  export CCACHE_DIR="${CCACHE_DIR:-$PWD/.cache/ccache}"
  cmake --preset release >/dev/null
  cmake --build --preset release --target crdt_bench >/dev/null
  bin=build/bin/crdt_bench
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node --expose-gc bench/node/yjs_bench.mjs "${common[@]}" "${node_only[@]}" --dump "$tmp/dump" >"$tmp/yjs.json"
mapfile -t prefix < <(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results
  for (const x of r) if (x.b5_prefix && !x.b5_whole) console.log(`--merge-prefix\n${x.trace}=${x.b5_prefix}`)
' "$tmp/yjs.json")
"$bin" "${common[@]}" "${prefix[@]}" --dump "$tmp/dump" >"$tmp/corates.json"
mkdir -p bench/results
node bench/node/report.mjs "$tmp/yjs.json" "$tmp/corates.json" \
  --command "bench/run.sh${common[*]:+ ${common[*]}}${node_only[*]:+ ${node_only[*]}}" >bench/results/latest.md
cat bench/results/latest.md
