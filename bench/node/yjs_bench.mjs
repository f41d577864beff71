// Yjs 13.6 side of the corates-sync benchmarks (issue 2, section 5).
//
//   node --expose-gc bench/node/yjs_bench.mjs [--trace NAME]... [--quick]
//        [--merge-budget SECONDS] [--dump DIR] [--traces DIR] > yjs.json
//
// For every sequential trace: B1 replay into a Y.Text (checked against endContent),
// B2 encode v1/v2 (+ sizes), B3 load into a fresh Doc, B4 apply one update per
// transaction, B5 Y.mergeUpdates on the longest prefix of those updates that Yjs
// merges within the budget, and the heap taken by the loaded Doc.
// Prints one JSON object on stdout; progress goes to stderr.
// --dump DIR writes, per trace, the inputs the C++ side reuses so that both sides
// work on the very same bytes: NAME.updates (per-transaction v1 updates, each
// prefixed by its length as uint32 LE) and NAME.state.v1 / NAME.state.v2.
import * as Y from 'yjs'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import os from 'node:os'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const opts = { traces: [], quick: false, mergeBudgetMs: 60000, dump: null,
  dir: process.env.CORATES_TRACES || path.resolve(here, '../../../shared/traces/sequential_traces') }
for (let i = 0; i < args.length; i++) {
  const a = args[i]
  if (a === '--trace') opts.traces.push(args[++i])
  else if (a === '--quick') opts.quick = true
  else if (a === '--merge-budget') opts.mergeBudgetMs = Number(args[++i]) * 1000
  else if (a === '--dump') opts.dump = args[++i]
  else if (a === '--traces') opts.dir = args[++i]
  else { console.error(`yjs_bench: unknown argument ${a}`); process.exit(2) }
}
if (opts.quick && !args.includes('--merge-budget')) opts.mergeBudgetMs = 5000
if (typeof globalThis.gc !== 'function') {
  console.error('yjs_bench: run node with --expose-gc (memory figures need it)')
  process.exit(2)
}

const log = (...a) => console.error('[yjs]', ...a)
const now = () => Number(process.hrtime.bigint()) / 1e6

// Runs fn at least once and repeats it (up to maxRuns) while the total stays
// under minMs; returns the median time of one run in ms.
const timeit = (fn, { minMs = 300, maxRuns = 15 } = {}) => {
  const times = []
  let total = 0
  do {
    const t0 = now()
    fn()
    const dt = now() - t0
    times.push(dt)
    total += dt
  } while (times.length < maxRuns && total < minMs)
  times.sort((a, b) => a - b)
  return times[times.length >> 1]
}

const heapUsed = () => {
  globalThis.gc(); globalThis.gc()
  return process.memoryUsage().heapUsed
}

// Trace positions and delete counts are in Unicode code points; Y.Text counts
// UTF-16 units. Tracks the code-point positions of astral characters (rare) so
// each patch converts in O(#astral) without keeping the document text.
const toUtf16Patches = (trace) => {
  const astral = [] // sorted code-point positions of characters outside the BMP
  const cpLen = (s) => { let n = 0; for (const _ of s) n++; return n }
  const noteInsert = (pos, text) => {
    const n = cpLen(text)
    for (let i = 0; i < astral.length; i++) if (astral[i] >= pos) astral[i] += n
    let cp = pos
    const fresh = []
    for (const ch of text) { if (ch.length === 2) fresh.push(cp); cp++ }
    if (fresh.length) { astral.push(...fresh); astral.sort((a, b) => a - b) }
  }
  const unitsBefore = (cp) => { let n = cp; for (const a of astral) if (a < cp) n++; return n }
  const txns = []
  const start = trace.startContent || ''
  noteInsert(0, start)
  for (const txn of trace.txns) {
    const out = []
    for (const [pos, del, ins] of txn.patches) {
      const upos = unitsBefore(pos)
      const udel = del > 0 ? unitsBefore(pos + del) - upos : 0
      if (del > 0) {
        const keep = []
        for (const a of astral) {
          if (a < pos) keep.push(a)
          else if (a >= pos + del) keep.push(a - del)
        }
        astral.length = 0; astral.push(...keep)
      }
      if (ins.length) noteInsert(pos, ins)
      out.push([upos, udel, ins])
    }
    txns.push(out)
  }
  return { start, txns }
}

const replay = (doc, conv) => {
  const text = doc.getText('text')
  if (conv.start.length) doc.transact(() => text.insert(0, conv.start))
  for (const patches of conv.txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of patches) {
        if (del > 0) text.delete(pos, del)
        if (ins.length) text.insert(pos, ins)
      }
    })
  }
  return text
}

// The editing doc is client 1; docs that load its updates are client 2 (Yjs would
// otherwise pick a new id for itself on seeing its own id in remote updates).
const newDoc = (clientID = 1) => { const d = new Y.Doc(); d.clientID = clientID; return d }

// B5: Y.mergeUpdates slows down superlinearly with the update count, so the
// prefix grows geometrically and the next size is extrapolated from the
// measured growth, never running an attempt predicted to exceed the budget.
const mergeSearch = (updates, budgetMs) => {
  let n = Math.min(1000, updates.length)
  let best = null
  let prev = null
  for (;;) {
    const part = updates.slice(0, n)
    const t0 = now()
    const merged = Y.mergeUpdates(part)
    const t = now() - t0
    log(`  merge prefix ${n}: ${t.toFixed(0)} ms`)
    if (t > budgetMs) break
    best = { prefix: n, ms: t, bytes: merged.length }
    if (n === updates.length) break
    let next = Math.min(updates.length, n * 2)
    if (prev && t > 50) {
      const k = Math.min(3, Math.max(1, Math.log(t / prev.t) / Math.log(n / prev.n)))
      const predicted = t * Math.pow(next / n, k)
      if (predicted > budgetMs) {
        next = Math.floor(n * Math.pow((budgetMs * 0.85) / t, 1 / k))
        if (next <= n * 1.05) break
      }
    }
    prev = { n, t }
    n = next
  }
  return best
}

const benchTrace = (file) => {
  const name = path.basename(file).replace(/\.json\.gz$/, '')
  const trace = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'))
  const conv = toUtf16Patches(trace)
  const edits = conv.txns.reduce((n, t) => n + t.length, 0)
  const r = { trace: name, txns: conv.txns.length, edits, endChars: trace.endContent.length }
  log(`${name}: ${r.txns} transactions, ${edits} edits`)

  // B1
  let finalText = ''
  r.b1_ms = timeit(() => {
    const doc = newDoc()
    finalText = replay(doc, conv).toString()
  }, { minMs: opts.quick ? 0 : 1500, maxRuns: 3 })
  r.b1_ok = finalText === trace.endContent
  if (!r.b1_ok) log(`  B1: final text differs from endContent (${finalText.length} vs ${trace.endContent.length})`)

  // Per-transaction updates, as a server would receive them (not timed).
  const doc = newDoc()
  const updates = []
  doc.on('update', (u) => updates.push(u))
  replay(doc, conv)
  r.updates = updates.length
  r.updates_bytes = updates.reduce((n, u) => n + u.length, 0)

  // B2
  let v1, v2
  r.b2_v1_ms = timeit(() => { v1 = Y.encodeStateAsUpdate(doc) })
  r.b2_v2_ms = timeit(() => { v2 = Y.encodeStateAsUpdateV2(doc) })
  r.v1_bytes = v1.length
  r.v2_bytes = v2.length

  // B3
  r.b3_v1_ms = timeit(() => { Y.applyUpdate(newDoc(2), v1) })
  r.b3_v2_ms = timeit(() => { Y.applyUpdateV2(newDoc(2), v2) })

  // Memory of the loaded document: V8 heapUsed after full collections, in a
  // fresh Node process so that garbage left by the timed runs cannot skew it.
  {
    const tmp = path.join(os.tmpdir(), `yjs-bench-${process.pid}.v1`)
    fs.writeFileSync(tmp, v1)
    const out = execFileSync(process.execPath, ['--expose-gc', path.join(here, 'yjs_mem.mjs'), tmp], { encoding: 'utf8' })
    fs.unlinkSync(tmp)
    const m = JSON.parse(out)
    r.mem_loaded_bytes = m.bytes
    r.mem_ratio = m.bytes / v1.length
    if (m.length !== finalText.length) log('  memory: loaded doc has wrong length')
  }

  // B4
  r.b4_ms = timeit(() => {
    const d = newDoc(2)
    for (const u of updates) Y.applyUpdate(d, u)
    if (d.getText('text').length !== finalText.length) throw new Error('B4: wrong result')
  }, { minMs: opts.quick ? 0 : 1500, maxRuns: 3 })

  // B5
  const m = mergeSearch(updates, opts.mergeBudgetMs)
  if (m) {
    r.b5_prefix = m.prefix
    r.b5_ms = m.ms
    r.b5_bytes = m.bytes
    r.b5_whole = m.prefix === updates.length
  }

  if (opts.dump) {
    fs.mkdirSync(opts.dump, { recursive: true })
    const parts = []
    for (const u of updates) {
      const h = Buffer.alloc(4); h.writeUInt32LE(u.length); parts.push(h, u)
    }
    fs.writeFileSync(path.join(opts.dump, `${name}.updates`), Buffer.concat(parts))
    fs.writeFileSync(path.join(opts.dump, `${name}.state.v1`), v1)
    fs.writeFileSync(path.join(opts.dump, `${name}.state.v2`), v2)
  }
  log(`  B1 ${r.b1_ms.toFixed(0)} ms, B3 ${r.b3_v1_ms.toFixed(1)} ms, B4 ${r.b4_ms.toFixed(0)} ms, ` +
      `B5 ${m ? `${m.prefix} updates in ${m.ms.toFixed(0)} ms` : 'none within budget'}, mem ${r.mem_ratio.toFixed(1)}x`)
  return r
}

let files = fs.readdirSync(opts.dir).filter((f) => f.endsWith('.json.gz')).sort()
if (opts.traces.length) {
  files = files.filter((f) => opts.traces.includes(f.replace(/\.json\.gz$/, '')))
  if (!files.length) { console.error(`yjs_bench: no trace named ${opts.traces.join(', ')} in ${opts.dir}`); process.exit(2) }
}
const results = []
for (const f of files) results.push(benchTrace(path.join(opts.dir, f)))
process.stdout.write(JSON.stringify({
  yjs: JSON.parse(fs.readFileSync(path.resolve(here, '../../node_modules/yjs/package.json'))).version,
  node: process.version, quick: opts.quick, merge_budget_s: opts.mergeBudgetMs / 1000, results
}, null, 1) + '\n')
