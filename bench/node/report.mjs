// Joins the two sides of the trace benchmarks into one Markdown report.
//   node bench/node/report.mjs yjs.json corates.json [--command "bench/run.sh ..."]
// yjs.json comes from bench/node/yjs_bench.mjs, corates.json from crdt_bench.
import fs from 'node:fs'
import os from 'node:os'

const args = process.argv.slice(2)
const yjs = JSON.parse(fs.readFileSync(args[0], 'utf8'))
const ours = JSON.parse(fs.readFileSync(args[1], 'utf8'))
const ci = args.indexOf('--command')
const command = ci >= 0 ? args[ci + 1] : 'bench/run.sh'

const ms = (v) => (v === undefined || v === null ? '—' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
const kb = (b) => (b === undefined ? '—' : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`)
const speedup = (c, y) => (c > 0 && y > 0 ? `${(y / c).toFixed(1)}x` : '—')
const flag = (ok) => (ok === undefined ? '' : ok ? 'ok' : '**MISMATCH**')

const rows = []
const gains = { B1: [], B3: [], B4: [], B5: [] }
const mems = []
for (const y of yjs.results) {
  const c = ours.results.find((r) => r.trace === y.trace) || {}
  const t = y.trace
  const row = (bench, cms, yms, notes = '') => rows.push(`| ${t} | ${bench} | ${ms(cms)} | ${ms(yms)} | ${speedup(cms, yms)} | ${notes} |`)
  row('B1 replay edits', c.b1_ms, y.b1_ms, `${y.edits} edits in ${y.txns} txns; final text ${flag(c.b1_ok)} (Yjs ${flag(y.b1_ok)})`)
  if (c.b1_ms && y.b1_ms) gains.B1.push(y.b1_ms / c.b1_ms)
  row('B2 encode v1', c.b2_v1_ms, y.b2_v1_ms, `${c.v1_bytes ?? '—'} B (Yjs ${y.v1_bytes} B)${c.v1_same_as_yjs === undefined ? '' : c.v1_same_as_yjs ? ', identical bytes' : ', **bytes differ**'}`)
  row('B2 encode v2', c.b2_v2_ms, y.b2_v2_ms, `${c.v2_bytes ?? '—'} B (Yjs ${y.v2_bytes} B)${c.v2_same_as_yjs === undefined ? '' : c.v2_same_as_yjs ? ', identical bytes' : ', **bytes differ**'}`)
  row('B3 load v1', c.b3_v1_ms, y.b3_v1_ms, `re-encodes identically: ${flag(c.b3_ok)}`)
  if (c.b3_v1_ms && y.b3_v1_ms) gains.B3.push(y.b3_v1_ms / c.b3_v1_ms)
  row('B3 load v2', c.b3_v2_ms, y.b3_v2_ms)
  row('B4 apply per-txn updates', c.b4_ms, y.b4_ms, `${y.updates} updates, ${kb(y.updates_bytes)}; result ${flag(c.b4_ok)}`)
  if (c.b4_ms && y.b4_ms) gains.B4.push(y.b4_ms / c.b4_ms)
  if (y.b5_prefix) {
    row(`B5 merge ${y.b5_whole ? 'all' : 'first'} ${y.b5_prefix} updates`, y.b5_whole ? c.b5_whole_ms : c.b5_prefix_ms, y.b5_ms,
      `output ${(y.b5_whole ? c.b5_whole_bytes : c.b5_prefix_bytes) ?? '—'} B (Yjs ${y.b5_bytes} B)`)
    const cm = y.b5_whole ? c.b5_whole_ms : c.b5_prefix_ms
    if (cm && y.b5_ms) gains.B5.push(y.b5_ms / cm)
  }
  if (!y.b5_whole) row(`B5 merge all ${y.updates} updates`, c.b5_whole_ms, undefined, `Yjs: not within ${yjs.merge_budget_s} s; output ${c.b5_whole_bytes ?? '—'} B`)
  const cr = c.mem_ratio
  rows.push(`| ${t} | memory of loaded doc | ${kb(c.mem_loaded_bytes)} | ${kb(y.mem_loaded_bytes)} | ${c.mem_loaded_bytes ? (y.mem_loaded_bytes / c.mem_loaded_bytes).toFixed(1) + 'x less' : '—'} | ${cr ? cr.toFixed(2) : '—'}x encoded size (Yjs ${y.mem_ratio.toFixed(1)}x) |`)
  if (cr) mems.push(cr)
}

const geo = (a) => (a.length ? Math.exp(a.reduce((s, x) => s + Math.log(x), 0) / a.length) : NaN)
const min = (a) => (a.length ? Math.min(...a) : NaN)
const fmt = (x) => (Number.isNaN(x) ? '—' : `${x.toFixed(1)}x`)
const lines = []
lines.push('# Trace benchmarks: corates-sync vs Yjs')
lines.push('')
lines.push(`Produced by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores, shared), Node ${yjs.node}, Yjs ${yjs.yjs}${yjs.quick ? ', --quick' : ''}.`)
lines.push('Times are the median of repeated runs in ms; "speedup" is Yjs time / corates time. Memory: bytes malloc has in use for the loaded Doc (corates) vs V8 heapUsed delta after full GC (Yjs), and both relative to the v1 encoded size.')
lines.push(`B5 compares on the longest prefix Yjs merged within ${yjs.merge_budget_s} s and reports ours on the whole trace too.`)
lines.push('')
lines.push('| target | result |')
lines.push('|---|---|')
for (const b of ['B1', 'B3', 'B4', 'B5']) lines.push(`| ${b} >= 5x faster | geometric mean ${fmt(geo(gains[b]))}, worst ${fmt(min(gains[b]))} |`)
lines.push(`| loaded doc < 3x encoded size | worst ${mems.length ? Math.max(...mems).toFixed(2) + 'x' : '—'} (mean ${mems.length ? (mems.reduce((a, b) => a + b, 0) / mems.length).toFixed(2) + 'x' : '—'}) |`)
lines.push('')
lines.push('| trace | bench | corates ms | Yjs ms | speedup | notes |')
lines.push('|---|---|---:|---:|---:|---|')
lines.push(...rows)
process.stdout.write(lines.join('\n') + '\n')
