// Turns the load tool's JSON lines into bench/results/load-latest.md.
//   node bench/load/report.mjs results.jsonl [--command "bench/load/run.sh ..."] [--server-bin PATH]
import fs from 'node:fs'
import os from 'node:os'
import { createRequire } from 'node:module'

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : dflt
}
const lines = fs.readFileSync(args[0], 'utf8').split('\n').filter((l) => l.trim().startsWith('{'))
const rows = lines.map((l) => JSON.parse(l))
const command = opt('--command', 'bench/load/run.sh')
const require = createRequire(import.meta.url)
const version = (pkg) => {
  try { return require(`${pkg}/package.json`).version } catch { return '?' }
}

const PEERS = ['hocuspocus', 'ywebsocket']
const NAMES = { corates: 'corates-sync', hocuspocus: 'Hocuspocus', ywebsocket: 'y-websocket-server' }
const name = (s) => NAMES[s] ?? s
const fmt = (v, d = 1) => (v === null || v === undefined ? '—' : v === 'inf' ? '∞' : typeof v === 'number' ? (Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(d)) : String(v))
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const ratio = (a, b, d = 1) => (num(a) !== null && num(b) !== null && b !== 0 ? `${(a / b).toFixed(d)}x` : '—')
const find = (scenario, server, tag) => rows.find((r) => r.scenario === scenario && r.server === server && (!tag || r.tag === tag))
const rateRows = (docs, clients) => rows.filter((r) => r.scenario === 'rate' && r.docs === docs && r.clients_per_doc === clients)
const kb = (b) => (num(b) === null ? '—' : `${(b / 1024).toFixed(1)} KB`)

const out = []
const p = (s = '') => out.push(s)
const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
p('# Load benchmark: corates-sync vs Hocuspocus and the reference y-websocket server')
p()
p(`Produced by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: ${cpu} (${os.cpus().length} cores, shared), Node ${process.version}, ` +
  `@hocuspocus/server ${version('@hocuspocus/server')}, @y/websocket-server ${version('@y/websocket-server')} (yjs ${version('yjs')}), ` +
  `corates-sync \`${opt('--server-bin', 'build/bin/corates-sync')}\`. Load average when the report was written: ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}.`)
p()
p('**Noisy numbers.** The machine has 2 cores, shared with other jobs (compiles) while this ran, and the load tool runs on the same cores as the server; ' +
  'each server is started fresh for every scenario and measured in the same run, so compare the ratios rather than the absolute values. ' +
  'corates-sync stores every update durably in SQLite (WAL, group commit) before it broadcasts it; Hocuspocus (no extensions) and y-websocket-server keep documents in memory only. ' +
  'Hocuspocus 4 declares Node >= 22; it ran here on Node ' + process.version + '.')
p()
p('How it is measured: `bench/load/load_tool` (C++, Boost.Beast, one client thread) opens raw WebSocket clients that speak y-websocket\'s protocol ' +
  '(Hocuspocus: its dialect, with the document name in every frame and an auth frame first). Each client syncs (step 1/2), then inserts 8 characters at a random ' +
  'position of a shared text at its rate, with our CRDT. Latency is from the moment an update is made to the moment each other client of the document receives it ' +
  '(read from the clock ranges of the received update, so merged broadcasts count for every update they carry); an update never received counts as infinitely late. ' +
  'At the end every client\'s state vector and text must be equal ("converged"). Server CPU is utime+stime of its process over the measured window (100% = one core), RSS from /proc/PID/status.')
p()

// ----- targets -----
const best = (vals, lowerIsBetter) => {
  const v = vals.filter((x) => num(x) !== null)
  if (!v.length) return null
  return lowerIsBetter ? Math.min(...v) : Math.max(...v)
}
const targets = []
const s5 = (s) => find('saturate', s)
{
  const ours = num(s5('corates')?.best_offered_updates_per_s)
  const peer = best(PEERS.map((s) => s5(s)?.best_offered_updates_per_s), false)
  targets.push(['S5 sustained rate >= 3x the best peer', ours !== null && peer !== null ? `${ratio(ours, peer)} (${fmt(ours, 0)} vs ${fmt(peer, 0)} updates/s)` : '—',
    ours !== null && peer !== null ? ours >= 3 * peer : null])
}
for (const [label, docs, clients] of [['S1', 1, 50], ['S2', 200, 5]]) {
  const rs = rateRows(docs, clients)
  const ours = rs.find((r) => r.server === 'corates')
  const peer = best(PEERS.map((s) => num(rs.find((r) => r.server === s)?.p99_ms)), true)
  const o = ours ? (ours.p99_ms === 'inf' ? Infinity : ours.p99_ms) : null
  targets.push([`${label} p99 no worse than the best peer`, o !== null && peer !== null ? `${fmt(o, 2)} ms vs ${fmt(peer, 2)} ms` : '—',
    o !== null && peer !== null ? o <= peer : null])
}
{
  const per = (s) => num(find('idle', s)?.server_bytes_per_conn)
  const ours = per('corates')
  const peer = best(PEERS.map(per), true)
  targets.push(['S3 memory per idle connection <= 1/5 of the best peer', ours !== null && peer !== null ? `${kb(ours)} vs ${kb(peer)} (${ratio(peer, ours)} less)` : '—',
    ours !== null && peer !== null ? ours * 5 <= peer : null])
}
{
  const j = (s) => num(find('join', s)?.single_p50_ms)
  const ours = j('corates')
  const peer = best(PEERS.map(j), true)
  targets.push(['S4 join >= 10x faster than the best peer', ours !== null && peer !== null ? `${fmt(ours, 2)} ms vs ${fmt(peer, 2)} ms (${ratio(peer, ours)})` : '—',
    ours !== null && peer !== null ? peer >= 10 * ours : null])
}
p('| target | measured | met |')
p('|---|---|---|')
for (const [t, m, ok] of targets) p(`| ${t} | ${m} | ${ok === null ? '—' : ok ? 'yes' : '**no**'} |`)
p()

// ----- S1 / S2 -----
const rateTable = (title, docs, clients, rate) => {
  const rs = rateRows(docs, clients)
  if (!rs.length) return
  const ours = rs.find((r) => r.server === 'corates')
  p(`## ${title}: ${docs} document${docs > 1 ? 's' : ''} x ${clients} clients, ${rate} updates/s each`)
  p()
  p('| server | p50 ms | p99 ms | max ms | delivered/s | offered updates/s | lost | server CPU % | server RSS MB | tool CPU % | converged | p99 vs corates | CPU vs corates |')
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|')
  for (const r of rs) {
    const conv = `${r.converged_docs}/${r.converged_docs + r.diverged_docs}${r.error ? ` (${r.error})` : ''}`
    const vs = r.server === 'corates' ? '' : ratio(num(r.p99_ms), num(ours?.p99_ms))
    const vc = r.server === 'corates' ? '' : ratio(num(r.server_cpu_pct), num(ours?.server_cpu_pct))
    p(`| ${name(r.server)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${fmt(r.max_ms, 1)} | ${fmt(r.delivered_per_s, 0)} | ${fmt(r.offered_updates_per_s, 0)} | ${r.lost} | ${fmt(r.server_cpu_pct)} | ${fmt(r.server_rss_mb)} | ${fmt(r.tool_cpu_pct)} | ${conv} | ${vs} | ${vc} |`)
  }
  p()
}
rateTable('S1', 1, 50, 10)
rateTable('S2', 200, 5, 2)
p('"delivered/s" counts (update, receiving client) pairs received in the window, the sender\'s own echo excluded. ' +
  '"p99 vs corates" is the peer\'s p99 divided by ours (above 1x: ours is lower).')
p()

// ----- S3 -----
const idle = rows.filter((r) => r.scenario === 'idle')
if (idle.length) {
  const ours = idle.find((r) => r.server === 'corates')
  p(`## S3: idle synced connections (${idle[0].conns} asked, over ${idle[0].docs} documents)`)
  p()
  p('| server | synced | still open | connect s | server RSS before MB | after MB | server memory per connection | vs corates | tool memory per connection |')
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of idle) {
    const vs = r.server === 'corates' ? '' : ratio(num(r.server_bytes_per_conn), num(ours?.server_bytes_per_conn))
    p(`| ${name(r.server)} | ${r.synced} | ${r.still_open} | ${fmt(r.connect_s)} | ${fmt(r.server_rss_before_mb)} | ${fmt(r.server_rss_after_mb)} | ${kb(r.server_bytes_per_conn)} | ${vs} | ${kb(r.tool_bytes_per_conn)} |`)
  }
  p()
  p(`The count is capped by the file-descriptor limit (${'`ulimit -n`'} hard limit here: both the tool and the server hold one descriptor per connection). ` +
    'Memory per connection is (RSS after - RSS before) / synced connections.')
  p()
}

// ----- S4 -----
const joins = rows.filter((r) => r.scenario === 'join')
if (joins.length) {
  const ours = joins.find((r) => r.server === 'corates')
  p(`## S4: joining a document with a ${joins[0].history_edits}-edit history`)
  p()
  p('| server | step 2 bytes | join ms (median) | fastest ms | 100 at once: p50 ms | p99 ms | max ms | all synced s | server CPU s (burst) | server RSS MB | history verified | vs corates |')
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|')
  for (const r of joins) {
    const vs = r.server === 'corates' ? '' : ratio(num(r.single_p50_ms), num(ours?.single_p50_ms))
    const ver = `${r.verified}/${r.checked}${r.content_ok ? ', text equal' : ', **text differs**'}${r.error ? ` (${r.error})` : ''}`
    p(`| ${name(r.server)} | ${r.step2_bytes} | ${fmt(r.single_p50_ms, 2)} | ${fmt(r.single_min_ms, 2)} | ${fmt(r.burst_p50_ms, 1)} | ${fmt(r.burst_p99_ms, 1)} | ${fmt(r.burst_max_ms, 1)} | ${fmt(r.burst_all_s, 2)} | ${fmt(r.burst_server_cpu_s, 2)} | ${fmt(r.server_rss_loaded_mb)} | ${ver} | ${vs} |`)
  }
  p()
  p(`The history: ${joins[0].history_edits} random inserts (1-6 characters) and deletes (1-4) by one writer, ` +
    `sent to the server as ${joins[0].history_frames} updates (text of ${joins[0].text_chars} characters, ${joins[0].update_bytes} bytes as one update). ` +
    'Join time: from TCP connect to the server\'s sync step 2 received in full (the joiner does not apply it inside the timing; one joiner\'s step 2 is applied afterwards and its text compared, and every joiner\'s step 2 must cover the history\'s state vector). ' +
    'The writer stays connected, so the document stays loaded (Hocuspocus unloads a document with no connection).')
  p()
}

// ----- S5 -----
const steps = rows.filter((r) => r.scenario === 'saturate-step')
const sums = rows.filter((r) => r.scenario === 'saturate')
if (sums.length) {
  const ours = sums.find((r) => r.server === 'corates')
  p(`## S5: saturation (${sums[0].docs} documents x ${sums[0].clients_per_doc} clients, the rate per client raised step by step)`)
  p()
  p('| server | highest sustained updates/s | delivered/s at it | p99 ms at it | stopped | vs corates |')
  p('|---|---:|---:|---:|---|---:|')
  for (const r of sums) {
    const vs = r.server === 'corates' ? '' : ratio(num(ours?.best_offered_updates_per_s), num(r.best_offered_updates_per_s))
    p(`| ${name(r.server)} | ${fmt(r.best_offered_updates_per_s, 0)} | ${fmt(r.best_delivered_per_s, 0)} | ${fmt(r.best_p99_ms, 2)} | ${r.stopped} | ${vs} |`)
  }
  p()
  p('A step is sustained when every update reached every other client of its document, all documents converged, p99 <= 100 ms and deliveries kept up (>= 95% of the offered deliveries within the window). "vs corates" is our sustained rate divided by the peer\'s.')
  p()
  p('| server | updates/s per client | offered updates/s | delivered/s | p50 ms | p99 ms | lost | server CPU % | server RSS MB | tool CPU % | late sends | sustained |')
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
  for (const r of steps) {
    p(`| ${name(r.server)} | ${fmt(r.rate_per_client, 2)} | ${fmt(r.offered_updates_per_s, 0)} | ${fmt(r.delivered_per_s, 0)} | ${fmt(r.p50_ms, 2)} | ${fmt(r.p99_ms, 2)} | ${r.lost} | ${fmt(r.server_cpu_pct)} | ${fmt(r.server_rss_mb)} | ${fmt(r.tool_cpu_pct)} | ${r.late_sends} | ${r.sustained ? 'yes' : `no: ${r.why}`} |`)
  }
  p()
  p('"late sends" are updates the tool itself sent more than 10 ms after their slot (the tool or the machine was saturated, not only the server).')
  p()
}

const failed = rows.filter((r) => r.scenario === 'failed')
if (failed.length) {
  p('## Runs that failed')
  p()
  for (const r of failed) p(`- ${r.tag} against ${name(r.server)}: the load tool exited with an error (see the run's log).`)
  p()
}
p('Raw results (one JSON object per run) are in `bench/results/load-latest.jsonl`.')
process.stdout.write(out.join('\n') + '\n')
