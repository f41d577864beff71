// Exactly once through the real SDK under faults (issue 5): 10 client
// installs (`corates-sync client`, each its own state directory and
// clientId) queue 1,000 ops each while the server is down, then replay them
// with `client run` in small batches while their processes are SIGKILLed
// and restarted at random and the server is SIGKILLed mid-replay and
// restarted three times. Afterwards: every op is recorded by the server
// exactly once in per-client seq order with the expected outcome, each
// install's statuses equal the server's records, and the change feed holds
// each applied op once, in per-client order, with todo positions 1, 2, 3...
// (a double apply would skip one). SEED=n reproduces the schedule.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { RATE_LIMITS_OFF, assert, freePort, removeDir, run, sleep, startServer, stopServer, tempDir } from '../server/lib.mjs'
import { prng, pullAll, records } from '../ops/lib.mjs'

const BIN = process.env.CORATES_BIN
const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
console.log(`seed ${seed} (SEED=${seed} tests/client/run.sh faults.mjs reproduces the schedule)`)
const CLIENTS = Number(process.env.SDK_CLIENTS ?? 10)
const OPS = Number(process.env.SDK_OPS ?? 1000)
const SERVER_KILLS = 3
const rnd = prng(seed)

const dir = tempDir()
const dataDir = join(dir, 'server')
const ENV = { ...RATE_LIMITS_OFF, CORATES_OPS_EVENTS_HOLD_MS: '1000' }
const port = await freePort()
const url = `http://127.0.0.1:${port}`
const base = i => ['client', '--server', url, '--state', join(dir, `client-${i}`), '--user', `c${i}`, '--timeout-ms', '3000']

// Each client's plan: mostly todo.add on its own list, a few ops of an
// unknown type (rejected by the server, never blocking the ops behind).
function plan (i) {
  const chunks = []
  let left = OPS
  while (left > 0) {
    const n = Math.min(left, 1 + Math.floor(rnd.next() * 250))
    chunks.push({ type: 'todo.add', n, status: 'applied' })
    left -= n
    if (left > 0 && rnd.next() < 0.5) {
      const k = Math.min(left, 1 + Math.floor(rnd.next() * 3))
      chunks.push({ type: 'todo.nope', n: k, status: 'rejected', code: 'UNKNOWN_OP_TYPE' })
      left -= k
    }
  }
  return chunks
}

function enqueueAll (i, chunks) {
  return new Promise((resolve, reject) => {
    // One process per chunk, in order: each copy is its own op, durable before its id is printed.
    const next = k => {
      if (k === chunks.length) return resolve()
      const c = chunks[k]
      const payload = c.type === 'todo.add' ? { list: `c${i}`, text: 'x' } : { x: 1 }
      const p = spawn(BIN, [...base(i), 'enqueue', c.type, JSON.stringify(payload), '--repeat', String(c.n)],
        { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      p.stdout.on('data', d => { out += d })
      p.stderr.on('data', d => { err += d })
      p.on('close', code => {  // 'close': after stdout is fully read
        if (code !== 0) return reject(new Error(`client ${i} enqueue: ${code} ${err}`))
        const ids = out.trim().split('\n')
        if (ids.length !== c.n) return reject(new Error(`client ${i}: ${ids.length} ids for ${c.n} ops`))
        next(k + 1)
      })
    }
    next(0)
  })
}

function status (i) {
  const r = spawnSync(BIN, [...base(i), 'status', '--json'], { encoding: 'utf8', timeout: 30000 })
  assert(r.status === 0, `client ${i} status: ${r.status} ${r.stderr}`)
  return JSON.parse(r.stdout)
}

// Op status lines printed by every runner so far: server kills wait for
// progress, so they land mid-replay however fast the machine is.
let progress = 0

// A `client run --until-drained` process that can be killed; `done` resolves with its exit.
function runner (i) {
  const p = spawn(BIN, [...base(i), 'run', '--until-drained', '--max-seconds', '120', '--backoff-max-ms', '400',
    '--batch-size', String(3 + Math.floor(rnd.next() * 8))], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  p.stdout.on('data', d => { progress += (String(d).match(/^op .* (syncing|applied)/mg) || []).length })
  p.stderr.on('data', d => { err += d })
  const done = new Promise(resolve => p.on('exit', (code, signal) => resolve({ code, signal, err })))
  return { p, done }
}

let server = null
const failed = await run({
  async '10 SDK installs x 1,000 ops, clients and server killed mid-replay: every op once, statuses match' () {
    const plans = Array.from({ length: CLIENTS }, (_, i) => plan(i))
    await Promise.all(plans.map((chunks, i) => enqueueAll(i, chunks)))
    for (let i = 0; i < CLIENTS; i++) {
      const s = status(i)
      assert(s.counts.pending === OPS && s.ops.length === OPS, `client ${i} queued offline: ${JSON.stringify(s.counts)}`)
    }

    server = await startServer({ dataDir, listen: `127.0.0.1:${port}`, env: ENV })
    const runners = Array.from({ length: CLIENTS }, (_, i) => runner(i))
    const drained = new Array(CLIENTS).fill(false)
    let clientKills = 0
    let serverKills = 0
    let killAfter = 1 + Math.floor(rnd.next() * 50)  // the next server kill once progress passes this
    const deadline = Date.now() + 150000
    // Chaos while anything is still replaying; every killed process is restarted.
    while (drained.includes(false)) {
      assert(Date.now() < deadline, `not drained in time: ${drained.map((d, i) => d ? '' : i).filter(String).join(',')}`)
      await sleep(50 + Math.floor(rnd.next() * 200))
      for (let i = 0; i < CLIENTS; i++) {
        const r = await Promise.race([runners[i].done, sleep(0).then(() => null)])
        if (r === null) continue
        if (r.code === 0) { drained[i] = true; continue }
        assert(r.signal === 'SIGKILL', `client ${i} run failed: ${r.code} ${r.err}`)
        runners[i] = runner(i)
      }
      if (rnd.next() < 0.35) {
        const i = Math.floor(rnd.next() * CLIENTS)
        if (!drained[i]) { runners[i].p.kill('SIGKILL'); clientKills++ }
      }
      if (serverKills < SERVER_KILLS && progress >= killAfter) {
        server.proc.kill('SIGKILL')
        await server.exited
        serverKills++
        await sleep(Math.floor(rnd.next() * 600))
        server = await startServer({ dataDir, listen: `127.0.0.1:${port}`, env: ENV })
        killAfter = progress + 20 + Math.floor(rnd.next() * 400)
      }
    }
    console.log(`  ${clientKills} client kills, ${serverKills} server kills`)
    assert(serverKills > 0, 'the server was killed at least once mid-replay (lower the load or raise OPS)')

    const { changes } = await pullAll(server, 0)
    const feedIds = new Set()
    for (const ch of changes) {
      assert(!feedIds.has(ch.id), `op ${ch.id} twice in the feed`)
      feedIds.add(ch.id)
    }
    for (let i = 0; i < CLIENTS; i++) {
      const s = status(i)
      assert(s.counts.waiting === 0, `client ${i} still waiting: ${JSON.stringify(s.counts)}`)
      const rec = await records(server, s.clientId)
      assert(rec.records.length === OPS, `client ${i}: ${rec.records.length} server records for ${OPS} ops`)
      const expected = plans[i].flatMap(c => new Array(c.n).fill(c))
      const mine = new Map(s.ops.map(o => [o.seq, o]))
      let position = 0
      for (const [k, r] of rec.records.entries()) {
        assert(r.seq === k + 1, `client ${i}: record ${k} has seq ${r.seq}`)
        const op = mine.get(r.seq)
        assert(op && op.id === r.id, `client ${i} seq ${r.seq}: server has op ${r.id}, client ${op && op.id}`)
        const exp = expected[k]
        if (exp.status === 'applied') {
          assert(r.status === 'applied' && op.status === 'applied',
            `client ${i} seq ${r.seq}: server ${r.status}, client ${op.status}`)
          position++
          assert(r.result.position === position, `client ${i} seq ${r.seq}: position ${r.result.position}, not ${position} (applied twice or lost?)`)
          assert(feedIds.has(r.id), `client ${i} seq ${r.seq}: applied but not in the feed`)
        } else {
          assert(r.status === 'rejected' && r.error.code === exp.code, `client ${i} seq ${r.seq}: server ${JSON.stringify(r)}`)
          assert(op.status === 'failed' && op.error.code === exp.code, `client ${i} seq ${r.seq}: client ${JSON.stringify(op)}`)
          assert(!feedIds.has(r.id), `client ${i} seq ${r.seq}: a rejected op in the feed`)
        }
      }
      const mineFeed = changes.filter(ch => ch.clientId === s.clientId).map(ch => ch.seq)
      assert(mineFeed.length === position && mineFeed.every((q, k) => k === 0 || q > mineFeed[k - 1]),
        `client ${i}: feed has ${mineFeed.length} ops (want ${position}) in seq order`)
    }
  }
})

if (server) await stopServer(server)
removeDir(dir)
process.exit(failed ? 1 : 0)
