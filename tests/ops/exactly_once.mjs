// Exactly once under faults (issue 5): 10 clients x 1,000 ops with random
// duplicates, reorderings, seq gaps, lost responses (the client aborts and
// resends), client restarts that forget unpersisted outcomes, and the server
// killed with SIGKILL mid-batch and restarted, three times. Afterwards every
// op was applied exactly once, in per-client order, and every client's
// statuses match the server's records. Seeded: SEED=n reproduces a schedule.
import {
  OPEN_ENV, assert, prng, pullAll, push, records, removeDir, run, sleep, startServer, stopServer, tempDir, uuid, hlc
} from './lib.mjs'

const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
console.log(`seed ${seed} (SEED=${seed} tests/ops/run.sh reproduces the schedule)`)
const CLIENTS = Number(process.env.OPS_CLIENTS ?? 10)
const OPS = Number(process.env.OPS_PER_CLIENT ?? 1000)
const KILLS = 3

const same = (a, b) => a.status === b.status && a.code === b.code && a.position === b.position

class Client {
  constructor (index) {
    this.id = uuid()
    this.rnd = prng(seed * 31 + index + 1)
    this.ops = []
    this.expected = []
    for (let seq = 1; seq <= OPS; seq++) {
      const r = this.rnd.next()
      let op
      if (r < 0.02) {
        op = { type: 'todo.add', payload: { list: this.id, text: '' } }  // schema: minLength 1
        this.expected.push({ status: 'rejected', code: 'VALIDATION_FAILED' })
      } else if (r < 0.03) {
        op = { type: 'todo.nope', payload: { x: 1 } }
        this.expected.push({ status: 'rejected', code: 'UNKNOWN_OP_TYPE' })
      } else {
        op = { type: 'todo.add', payload: { list: this.id, text: `item ${seq}` } }
        this.expected.push({ status: 'applied' })
      }
      this.ops.push({ id: uuid(), seq, payloadVersion: 1, hlc: hlc(), ...op })
    }
    this.durable = new Map()   // seq -> outcome, survives restarts
    this.volatile = new Map()  // learned since the last persist; lost on restart
    this.stats = { requests: 0, lost: 0, restarts: 0, gaps: 0, duplicates: 0, unavailable: 0, down: 0 }
  }

  outcome (seq) { return this.durable.get(seq) ?? this.volatile.get(seq) }
  persist () { for (const [k, v] of this.volatile) this.durable.set(k, v); this.volatile.clear() }
  lowestPending () {
    for (let s = 1; s <= OPS; s++) if (!this.outcome(s)) return s
    return null
  }

  take (results) {
    for (const res of results) {
      const op = this.ops[res.seq - 1]
      assert(op && res.id === op.id, `result for seq ${res.seq} names op ${res.id}`)
      let final
      if (res.status === 'applied') final = { status: 'applied', position: res.result.position }
      else if (res.status === 'duplicate') {
        this.stats.duplicates++
        final = res.originalStatus === 'applied'
          ? { status: 'applied', position: res.result.position }
          : { status: 'rejected', code: res.error.code }
      } else if (res.status === 'rejected') final = { status: 'rejected', code: res.error.code }
      else {
        assert(res.status === 'retry', 'status is one of the four: ' + res.status)
        if (res.error.code === 'SEQ_GAP') {
          this.stats.gaps++
          assert(Number.isInteger(res.error.details[0].expectedSeq), 'SEQ_GAP names the expected seq')
        }
        continue
      }
      const prev = this.outcome(res.seq)
      if (prev) {
        assert(same(prev, final), `client ${this.id} seq ${res.seq}: answered ${JSON.stringify(final)} after ${JSON.stringify(prev)}`)
      } else {
        this.volatile.set(res.seq, final)
      }
    }
  }

  async runAgainst (base) {
    const rnd = this.rnd
    for (let guard = 0; guard < 20000; guard++) {
      const lowest = this.lowestPending()
      if (lowest === null) break
      let start = lowest
      if (rnd.chance(0.05)) start = Math.min(OPS, lowest + 1 + rnd.int(3))  // a gap on purpose
      const size = 1 + rnd.int(40)
      const batch = this.ops.slice(start - 1, Math.min(OPS, start - 1 + size))
      if (lowest > 1 && rnd.chance(0.3)) {
        for (let k = rnd.int(3) + 1; k > 0; k--) batch.push(this.ops[rnd.int(lowest - 1)])
      }
      if (rnd.chance(0.2)) batch.push(batch[rnd.int(batch.length)])
      if (rnd.chance(0.5)) {
        for (let i = batch.length - 1; i > 0; i--) {
          const j = rnd.int(i + 1);
          [batch[i], batch[j]] = [batch[j], batch[i]]
        }
      }
      const lose = rnd.chance(0.1)
      const restart = rnd.chance(0.03)
      const ctl = new AbortController()
      if (lose) setTimeout(() => ctl.abort(), rnd.int(15))
      this.stats.requests++
      let r
      try {
        r = await push({ http: base }, this.id, batch, { signal: ctl.signal, timeoutMs: 15000 })
      } catch (e) {
        if (lose) this.stats.lost++
        else this.stats.down++
        await sleep(lose ? 0 : 20 + rnd.int(30))
        continue
      }
      if (restart) {
        // The process died before it stored what it learned.
        this.stats.restarts++
        this.volatile.clear()
        continue
      }
      if (r.status === 200) {
        this.take(r.body.results)
        if (rnd.chance(0.5)) this.persist()
      } else if (r.status === 503) {
        this.stats.unavailable++
        await sleep(20)
      } else {
        throw new Error(`client ${this.id}: unexpected ${r.status} ${r.text}`)
      }
    }
    this.persist()
    assert(this.lowestPending() === null, `client ${this.id} finished its queue`)
  }
}

const failed = await run({
  async 'exactly once under duplicates, reorders, lost answers, restarts and kill -9' () {
    const dir = tempDir()
    let server = await startServer({ dataDir: dir, env: OPEN_ENV })
    const port = server.port
    const base = server.http
    const clients = Array.from({ length: CLIENTS }, (_, i) => new Client(i))
    let done = false
    const t0 = Date.now()
    const work = Promise.all(clients.map(c => c.runAgainst(base))).finally(() => { done = true })
    const killer = (async () => {
      const rnd = prng(seed ^ 0x5bd1e995)
      let kills = 0
      while (!done && kills < KILLS) {
        await sleep(300 + rnd.int(900))
        if (done) break
        server.proc.kill('SIGKILL')
        await server.exited
        kills++
        await sleep(50 + rnd.int(200))
        server = await startServer({ dataDir: dir, listen: `127.0.0.1:${port}`, env: OPEN_ENV })
      }
      return kills
    })()
    await work
    const kills = await killer
    const total = clients.reduce((a, c) => {
      for (const [k, v] of Object.entries(c.stats)) a[k] = (a[k] || 0) + v
      return a
    }, {})
    console.log(`  ${CLIENTS} x ${OPS} ops in ${Date.now() - t0} ms; kills ${kills}; ${JSON.stringify(total)}`)
    assert(kills >= 1, 'the server was killed at least once during the run')
    assert(total.lost > 0 && total.restarts > 0 && total.duplicates > 0, 'every fault happened')

    // The server's records agree with every client, and with the expectation.
    for (const c of clients) {
      const rec = await records(server, c.id)
      assert(rec.lastSeq === OPS, `client ${c.id}: lastSeq ${rec.lastSeq}`)
      assert(rec.records.length === OPS, `client ${c.id}: ${rec.records.length} records`)
      for (const r of rec.records) {
        const op = c.ops[r.seq - 1]
        assert(r.id === op.id, `record ${r.seq} is op ${op.id}`)
        const server = r.status === 'applied' ? { status: 'applied', position: r.result.position } : { status: 'rejected', code: r.error.code }
        const mine = c.durable.get(r.seq)
        assert(same(server, mine), `client ${c.id} seq ${r.seq}: server ${JSON.stringify(server)}, client ${JSON.stringify(mine)}`)
        const exp = c.expected[r.seq - 1]
        assert(exp.status === server.status && (exp.code === undefined || exp.code === server.code),
          `seq ${r.seq}: expected ${JSON.stringify(exp)}, got ${JSON.stringify(server)}`)
      }
    }

    // The change feed: each applied op exactly once, in per-client seq order,
    // and the todo positions count 1, 2, 3... (a double apply would skip one).
    const { changes } = await pullAll(server, 0)
    const byClient = new Map(clients.map(c => [c.id, []]))
    let lastCp = 0
    for (const ch of changes) {
      assert(ch.checkpoint > lastCp, 'feed in checkpoint order')
      lastCp = ch.checkpoint
      byClient.get(ch.clientId).push(ch)
    }
    for (const c of clients) {
      const list = byClient.get(c.id)
      const applied = c.ops.filter((_, i) => c.expected[i].status === 'applied')
      assert(list.length === applied.length, `client ${c.id}: ${list.length} changes for ${applied.length} applied ops`)
      const ids = new Set()
      list.forEach((ch, i) => {
        assert(!ids.has(ch.id), 'op applied twice: ' + ch.id)
        ids.add(ch.id)
        assert(ch.id === applied[i].id && ch.seq === applied[i].seq, `client ${c.id}: change ${i} is seq ${ch.seq}, expected ${applied[i].seq}`)
        assert(ch.result.position === i + 1, `client ${c.id}: position ${ch.result.position} at ${i + 1}`)
        assert(c.durable.get(ch.seq).position === i + 1, 'client saw the same result')
      })
    }
    await stopServer(server)
    removeDir(dir)
  }
})
process.exit(failed ? 1 : 0)
