// The op queue's HTTP contract and bad input (docs/ops.md): per-op statuses,
// replays, id reuse, seq gaps, unknown types, schema failures, state vectors,
// malformed and oversized batches, the built-in types, pull and events.
import * as Y from 'yjs'
import {
  OPEN_ENV, assert, op, pull, pullAll, push, records, removeDir, request, run, sleep, startServer, stopServer,
  tempDir, uuid
} from './lib.mjs'

const dir = tempDir()
const env = { ...OPEN_ENV, CORATES_OPS_MAX_BATCH: '50', CORATES_OPS_EVENTS_HOLD_MS: '1500' }
let server = await startServer({ dataDir: dir, env })

const todo = (seq, list, text = 'x', extra) => op(seq, 'todo.add', { list, text }, extra)
const b64url = bytes => Buffer.from(bytes).toString('base64url')

const failed = await run({
  async 'a batch applies in order and answers per op' () {
    const c = uuid()
    const r = await push(server, c, [todo(1, c, 'a'), todo(2, c, 'b'), todo(3, c, 'c')])
    assert(r.status === 200, 'status ' + r.status + ' ' + r.text)
    assert(r.body.results.map(x => x.status).join() === 'applied,applied,applied', r.text)
    assert(r.body.results.map(x => x.result.position).join() === '1,2,3', 'positions ' + r.text)
    const cps = r.body.results.map(x => x.checkpoint)
    assert(cps[0] < cps[1] && cps[1] < cps[2] && cps[2] <= r.body.checkpoint, 'checkpoints ' + r.text)
  },

  async 'reordered ops apply in seq order; results keep the request order' () {
    const c = uuid()
    const ops = [todo(1, c, 'a'), todo(2, c, 'b'), todo(3, c, 'c')]
    const r = await push(server, c, [ops[2], ops[0], ops[1]])
    assert(r.body.results.map(x => x.seq).join() === '3,1,2', r.text)
    assert(r.body.results.map(x => x.result.position).join() === '3,1,2', r.text)
  },

  async 'a resent op returns its stored result as duplicate and is not applied again' () {
    const c = uuid()
    const ops = [todo(1, c), todo(2, c)]
    const first = await push(server, c, ops)
    const again = await push(server, c, [...ops, todo(3, c)])
    assert(again.body.results[0].status === 'duplicate' && again.body.results[0].originalStatus === 'applied', again.text)
    assert(JSON.stringify(again.body.results[1].result) === JSON.stringify(first.body.results[1].result), 'same result')
    assert(again.body.results[1].checkpoint === first.body.results[1].checkpoint, 'same checkpoint')
    assert(again.body.results[2].status === 'applied' && again.body.results[2].result.position === 3, again.text)
    // Key order of the payload does not matter for the fingerprint.
    const reordered = { ...ops[0], payload: { text: ops[0].payload.text, list: ops[0].payload.list } }
    const r = await push(server, c, [reordered])
    assert(r.body.results[0].status === 'duplicate', r.text)
  },

  async 'the same id with a different payload is IDEMPOTENCY_KEY_REUSED and changes nothing' () {
    const c = uuid()
    const a = todo(1, c, 'first')
    await push(server, c, [a])
    const r = await push(server, c, [{ ...a, payload: { list: c, text: 'other' } }])
    assert(r.body.results[0].status === 'rejected' && r.body.results[0].error.code === 'IDEMPOTENCY_KEY_REUSED', r.text)
    // Reused at the next seq: refused, and seq 3 is not blocked.
    const r2 = await push(server, c, [{ ...a, seq: 2 }, todo(3, c)])
    assert(r2.body.results[0].error.code === 'IDEMPOTENCY_KEY_REUSED', r2.text)
    assert(r2.body.results[1].status === 'applied' && r2.body.results[1].result.position === 2, r2.text)
  },

  async 'a seq gap stops the batch with SEQ_GAP and the expected seq' () {
    const c = uuid()
    await push(server, c, [todo(1, c)])
    const r = await push(server, c, [todo(3, c), todo(4, c)])
    assert(r.status === 200, r.text)
    for (const x of r.body.results) {
      assert(x.status === 'retry' && x.error.code === 'SEQ_GAP' && x.error.details[0].expectedSeq === 2, r.text)
    }
    const rec = await records(server, c)
    assert(rec.lastSeq === 1 && rec.records.length === 1, 'nothing after the gap applied')
  },

  async 'unknown types and bad payloads are rejected, recorded and do not block' () {
    const c = uuid()
    const r = await push(server, c, [
      op(1, 'nothing.here', { a: 1 }),
      todo(2, c, ''),
      op(3, 'todo.add', { list: c, text: 'x', extra: true }),
      todo(4, c, 'ok')
    ])
    const [a, b, d, e] = r.body.results
    assert(a.status === 'rejected' && a.error.code === 'UNKNOWN_OP_TYPE', r.text)
    assert(b.status === 'rejected' && b.error.code === 'VALIDATION_FAILED', r.text)
    assert(b.error.details.some(x => x.pointer === '/ops/1/payload/text'), 'pointer into the payload: ' + r.text)
    assert(d.error.code === 'VALIDATION_FAILED', r.text)
    assert(e.status === 'applied' && e.result.position === 1, r.text)
    const again = await push(server, c, [op(1, 'nothing.here', { a: 1 }, { id: r.body.results[0].id })])
    assert(again.body.results[0].status === 'duplicate' && again.body.results[0].originalStatus === 'rejected' &&
      again.body.results[0].error.code === 'UNKNOWN_OP_TYPE', again.text)
    const rec = await records(server, c)
    assert(rec.records.map(x => x.status).join() === 'rejected,rejected,rejected,applied', JSON.stringify(rec))
  },

  async 'state vectors: a Yjs state vector is accepted, garbage is INVALID_STATE_VECTOR' () {
    const c = uuid()
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'hello')
    const sv = b64url(Y.encodeStateVector(doc))
    const r = await push(server, c, [
      todo(1, c, 'x', { stateVector: sv }),
      todo(2, c, 'y', { stateVector: b64url([0xff, 0xff, 0xff]) })
    ])
    assert(r.body.results[0].status === 'applied', r.text)
    assert(r.body.results[1].status === 'rejected' && r.body.results[1].error.code === 'INVALID_STATE_VECTOR', r.text)
  },

  async 'malformed batches are refused whole, nothing applied' () {
    const c = uuid()
    const bad = await request(`${server.http}/api/sync/ops`, { method: 'POST', body: '{"clientId": ' })
    assert(bad.status === 400 && bad.body.error.code === 'MALFORMED_JSON', bad.text)
    const noClient = await request(`${server.http}/api/sync/ops`, { method: 'POST', body: { ops: [] } })
    assert(noClient.status === 400 && noClient.body.error.code === 'VALIDATION_FAILED', noClient.text)
    const badOp = await push(server, c, [todo(1, c), { ...todo(2, c), seq: 0 }])
    assert(badOp.status === 400 && badOp.body.error.code === 'VALIDATION_FAILED', badOp.text)
    const badId = await push(server, 'not-a-uuid', [todo(1, c)])
    assert(badId.status === 400, badId.text)
    const rec = await records(server, c)
    assert(rec.lastSeq === 0 && rec.records.length === 0, 'nothing applied: ' + JSON.stringify(rec))
  },

  async 'oversized batches: 413 BATCH_TOO_LARGE and PAYLOAD_TOO_LARGE' () {
    const c = uuid()
    const many = Array.from({ length: 51 }, (_, i) => todo(i + 1, c))
    const r = await push(server, c, many)
    assert(r.status === 413 && r.body.error.code === 'BATCH_TOO_LARGE', r.status + ' ' + r.text)
    const huge = await push(server, c, [todo(1, c, 'x'.repeat(17 << 20))])
    assert(huge.status === 413, 'huge body: ' + huge.status)
    const rec = await records(server, c)
    assert(rec.lastSeq === 0, 'nothing applied')
  },

  async 'documents: create, DOC_EXISTS, rename, delete, DOC_NOT_FOUND' () {
    const c = uuid()
    const name = 'doc-' + uuid()
    const r = await push(server, c, [
      op(1, 'doc.create', { name, title: 'Plan' }),
      op(2, 'doc.create', { name }),
      op(3, 'doc.rename', { name, title: 'Roadmap' }),
      op(4, 'doc.delete', { name }),
      op(5, 'doc.rename', { name, title: 'gone' }),
      op(6, 'doc.create', { name: '' })
    ])
    const s = r.body.results
    assert(s[0].status === 'applied' && s[0].result.title === 'Plan', r.text)
    assert(s[1].status === 'rejected' && s[1].error.code === 'DOC_EXISTS', r.text)
    assert(s[2].status === 'applied' && s[2].result.previousTitle === 'Plan', r.text)
    assert(s[3].status === 'applied' && s[3].result.deleted === true, r.text)
    assert(s[4].status === 'rejected' && s[4].error.code === 'DOC_NOT_FOUND', r.text)
    assert(s[5].status === 'rejected' && s[5].error.code === 'VALIDATION_FAILED', r.text)
  },

  async 'profiles: last writer wins by hlc, whatever the arrival order' () {
    const a = uuid()
    const b = uuid()
    const newer = '2030-01-01T00:00:00.000Z-0000'
    const older = '2020-01-01T00:00:00.000Z-0000'
    const r1 = await push(server, a, [op(1, 'user.profile.update', { displayName: 'New', locale: 'de' }, { hlc: newer })])
    assert(r1.body.results[0].status === 'applied', r1.text)
    const r2 = await push(server, b, [op(1, 'user.profile.update', { displayName: 'Old', timezone: 'UTC' }, { hlc: older })])
    const res = r2.body.results[0].result
    assert(res.profile.displayName === 'New' && res.profile.timezone === 'UTC', r2.text)
    assert(res.ignored.join() === 'displayName', r2.text)
    const bad = await push(server, b, [op(2, 'user.profile.update', {})])
    assert(bad.body.results[0].error.code === 'VALIDATION_FAILED', bad.text)
  },

  async 'pull: ordered pages, checkpoints never go backwards' () {
    const c = uuid()
    const before = (await pull(server, 0, 1)).body
    assert(before.changes.length === 1 && before.hasMore === true, JSON.stringify(before))
    const { checkpoint: start } = await pullAll(server, 0)
    await push(server, c, Array.from({ length: 30 }, (_, i) => todo(i + 1, c, 'p' + i)))
    let cp = start
    const seen = []
    for (let i = 0; i < 100; i++) {
      const r = await pull(server, cp, 7)
      assert(r.status === 200 && r.body.checkpoint >= cp, 'monotonic ' + r.text)
      assert(r.body.changes.length <= 7, 'limit')
      seen.push(...r.body.changes)
      cp = r.body.checkpoint
      if (!r.body.hasMore) break
    }
    const mine = seen.filter(x => x.clientId === c)
    assert(mine.length === 30 && mine.every((x, i) => x.seq === i + 1 && x.type === 'todo.add' && x.payload.text === 'p' + i),
      'all 30 in order')
    const empty = await pull(server, cp + 1000)
    assert(empty.status === 200 && empty.body.changes.length === 0 && empty.body.checkpoint === cp + 1000, empty.text)
    const bad = await request(`${server.http}/api/sync/ops?since=-1`)
    assert(bad.status === 400 && bad.body.error.code === 'INVALID_CHECKPOINT', bad.text)
  },

  async 'events: text/event-stream, held until the checkpoint advances' () {
    const { checkpoint } = await pullAll(server, 0)
    const now = await request(`${server.http}/api/sync/events`)
    assert(now.status === 200 && now.headers.get('content-type').startsWith('text/event-stream'), now.status)
    assert(now.text.includes(`id: ${checkpoint}\n`) && now.text.includes('event: checkpoint'), now.text)
    const t0 = Date.now()
    const held = request(`${server.http}/api/sync/events?since=${checkpoint}`)
    await sleep(200)
    const c = uuid()
    const p = await push(server, c, [todo(1, c)])
    const ev = await held
    assert(ev.text.includes(`data: {"checkpoint":${p.body.checkpoint}}`), ev.text)
    assert(Date.now() - t0 < 1400, 'answered on the commit, not at the hold timeout')
    const quiet = await request(`${server.http}/api/sync/events`, { headers: { 'Last-Event-ID': String(p.body.checkpoint) } })
    assert(quiet.status === 200 && !quiet.text.includes('event:') && quiet.text.includes('retry:'), 'timeout without news: ' + quiet.text)
  },

  async 'a graceful restart keeps records, feed and checkpoint' () {
    const c = uuid()
    const ops = [todo(1, c), todo(2, c)]
    const first = await push(server, c, ops)
    const port = server.port
    const st = await stopServer(server)
    assert(st.code === 0, 'exit 0')
    server = await startServer({ dataDir: dir, listen: `127.0.0.1:${port}`, env })
    const again = await push(server, c, ops)
    assert(again.body.results.every(x => x.status === 'duplicate'), again.text)
    assert(again.body.checkpoint === first.body.checkpoint, 'checkpoint kept')
  }
})
await stopServer(server)
removeDir(dir)
process.exit(failed ? 1 : 0)
