#!/usr/bin/env bash
# A short demo of `corates-sync update ...` on a real editing trace: Yjs (in
# Node) types the first transactions of a trace, one update per transaction,
# as a server would receive them; then our tools merge, inspect and read them.
#   scripts/demo-update-tools.sh [TRACE_NAME] [TRANSACTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CORATES_BIN:-build/bin/corates-sync}"
trace="${1:-sveltecomponent}"
count="${2:-2000}"
traces="${CORATES_TRACES:-../shared/traces/sequential_traces}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

node --input-type=module - "$traces/$trace.json.gz" "$count" "$tmp" <<'JS'
import * as Y from 'yjs'
import fs from 'node:fs'
import zlib from 'node:zlib'
const [file, count, out] = process.argv.slice(2)
const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)))
const doc = new Y.Doc()
doc.clientID = 1
const paths = []
doc.on('update', (u) => {
  const p = `${out}/u${String(paths.length).padStart(6, '0')}.bin`
  fs.writeFileSync(p, u)
  paths.push(p)
})
const text = doc.getText('text')
// Positions count code points; Y.Text counts UTF-16 units.
const units = (cp) => [...text.toString()].slice(0, cp).join('').length
for (const txn of trace.txns.slice(0, Number(count))) {
  doc.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      const at = units(pos)
      if (del) text.delete(at, units(pos + del) - at)
      if (ins) text.insert(at, ins)
    }
  })
}
doc.getMap('meta').set('trace', file.split('/').pop())
fs.writeFileSync(`${out}/list.txt`, paths.join('\n') + '\n')
JS

n=$(wc -l <"$tmp/list.txt")
echo "== $n updates from Yjs typing '$trace' ($(du -sh --apparent-size "$tmp" | cut -f1) on disk)"
echo "\$ corates-sync update merge --list list.txt -o merged.bin"
"$bin" update merge --list "$tmp/list.txt" -o "$tmp/merged.bin"
echo "   merged: $(stat -c %s "$tmp/merged.bin") bytes"
"$bin" update convert --to v2 "$tmp/merged.bin" -o "$tmp/merged.v2"
echo "\$ corates-sync update convert --to v2 merged.bin   -> $(stat -c %s "$tmp/merged.v2") bytes"
echo "\$ corates-sync update state-vector merged.bin | od -An -tx1"
"$bin" update state-vector "$tmp/merged.bin" | od -An -tx1
"$bin" update encode $(head -n $((n / 2)) "$tmp/list.txt") -o "$tmp/half.bin"
"$bin" update state-vector "$tmp/half.bin" -o "$tmp/half.sv"
"$bin" update diff --state-vector "$tmp/half.sv" "$tmp/merged.bin" -o "$tmp/diff.bin"
echo "\$ corates-sync update diff --state-vector half.sv merged.bin   -> $(stat -c %s "$tmp/diff.bin") bytes (what a client at the halfway point lacks)"
echo "\$ corates-sync update inspect merged.bin | head"
"$bin" update inspect "$tmp/merged.bin" -o "$tmp/inspect.txt"
head -n 8 "$tmp/inspect.txt"
echo "\$ corates-sync update to-json merged.bin | cut -c1-200"
"$bin" update to-json "$tmp/merged.bin" -o "$tmp/doc.json"
cut -c1-200 "$tmp/doc.json"
