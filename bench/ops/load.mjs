// Durable op ingestion through POST /api/sync/ops (issue 5 benchmark): for
// each batch size and client count, closed-loop clients push todo.add batches
// for a fixed time; every answered op is durable (the server answers after
// COMMIT with synchronous=FULL). Prints one JSON line per run.
//   node bench/ops/load.mjs --url http://127.0.0.1:PORT [--seconds 5] [--batches 1,10,100] [--clients 1,4,16]
import http from 'node:http'
import { randomUUID } from 'node:crypto'

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]])
  return acc
}, []))
const url = new URL(args.url)
const seconds = Number(args.seconds ?? 5)
const batches = (args.batches ?? '1,10,100').split(',').map(Number)
const clientCounts = (args.clients ?? '1,4,16').split(',').map(Number)

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

function post (body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: '/api/sync/ops', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

function percentile (sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

async function runOne (batch, clients) {
  const deadline = Date.now() + seconds * 1000
  const latencies = []
  let applied = 0
  let errors = 0
  const hlc = new Date().toISOString() + '-0000'
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: clients }, async () => {
    const clientId = randomUUID()
    let seq = 0
    while (Date.now() < deadline) {
      const ops = []
      for (let i = 0; i < batch; i++) {
        seq++
        ops.push({ id: randomUUID(), seq, type: 'todo.add', payloadVersion: 1, hlc, payload: { list: clientId, text: 'item ' + seq } })
      }
      const body = JSON.stringify({ clientId, ops })
      const s = process.hrtime.bigint()
      const r = await post(body)
      latencies.push(Number(process.hrtime.bigint() - s) / 1e6)
      if (r.status !== 200) {
        errors++
        if (errors < 3) console.error('push failed', r.status, r.text.slice(0, 200))
        seq -= batch
        continue
      }
      const res = JSON.parse(r.text)
      for (const x of res.results) if (x.status === 'applied') applied++
    }
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  latencies.sort((a, b) => a - b)
  return {
    batch,
    clients,
    seconds: Number(secs.toFixed(2)),
    requests: latencies.length,
    errors,
    opsPerSec: Math.round(applied / secs),
    p50ms: Number(percentile(latencies, 0.5).toFixed(2)),
    p99ms: Number(percentile(latencies, 0.99).toFixed(2))
  }
}

for (const batch of batches) {
  for (const clients of clientCounts) {
    console.log(JSON.stringify(await runOne(batch, clients)))
  }
}
agent.destroy()
