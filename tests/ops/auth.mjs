// The op queue with auth on: ops on documents the user may not touch are
// rejected FORBIDDEN (recorded, not blocking), a clientId belongs to one user,
// and the feed shows each user only what it may see.
import { api, assert, mintToken, removeDir, run, startAuthServer, stopServer, tempDir } from '../auth/lib.mjs'
import { op, uuid } from './lib.mjs'

const dir = tempDir()
const server = await startAuthServer({ dataDir: dir })
const alice = mintToken(dir, 'alice', { role: 'owner', doc: 'team/*' })
const bob = mintToken(dir, 'bob', { role: 'viewer', doc: 'team/*' })
const carol = mintToken(dir, 'carol')
const push = (token, clientId, ops) => api(server, 'POST', '/api/sync/ops', { token, json: { clientId, ops } })
const feed = async token => {
  const r = await api(server, 'GET', '/api/sync/ops?since=0&limit=1000', { token })
  assert(r.status === 200, 'pull ' + r.status + ' ' + r.text)
  return r.json.changes
}
const aliceClient = uuid()

const failed = await run({
  async 'without a session: 401' () {
    const r = await push(undefined, uuid(), [op(1, 'todo.add', { list: 'l', text: 't' })])
    assert(r.status === 401, 'status ' + r.status)
  },

  async 'roles decide per op; a forbidden op is recorded and does not block' () {
    const r = await push(alice, aliceClient, [
      op(1, 'doc.create', { name: 'team/plan', title: 'Plan' }),
      op(2, 'doc.rename', { name: 'team/plan', title: 'Roadmap' }),
      op(3, 'todo.add', { list: 'mine', text: 'secret' })
    ])
    assert(r.status === 200 && r.json.results.every(x => x.status === 'applied'), r.text)
    const b = uuid()
    const rb = await push(bob, b, [
      op(1, 'doc.rename', { name: 'team/plan', title: 'Bob was here' }),
      op(2, 'doc.delete', { name: 'team/plan' }),
      op(3, 'todo.add', { list: 'bobs', text: 'ok' })
    ])
    const s = rb.json.results
    assert(s[0].status === 'rejected' && s[0].error.code === 'FORBIDDEN', rb.text)
    assert(s[1].status === 'rejected' && s[1].error.code === 'FORBIDDEN', rb.text)
    assert(s[2].status === 'applied', rb.text)
    const rc = await push(carol, uuid(), [op(1, 'doc.rename', { name: 'team/plan', title: 'x' })])
    assert(rc.json.results[0].error.code === 'FORBIDDEN', rc.text)
  },

  async 'a clientId belongs to the user that used it first' () {
    const r = await push(bob, aliceClient, [op(4, 'todo.add', { list: 'x', text: 'y' })])
    assert(r.status === 409 && r.json.error.code === 'CLIENT_ID_IN_USE', r.status + ' ' + r.text)
    const rec = await api(server, 'GET', `/api/sync/clients/${aliceClient}/ops`, { token: bob })
    assert(rec.status === 403, 'records of another user: ' + rec.status)
    const own = await api(server, 'GET', `/api/sync/clients/${aliceClient}/ops`, { token: alice })
    assert(own.status === 200 && own.json.lastSeq === 3, own.text)
  },

  async 'doc.share / doc.unshare change roles once committed' () {
    const ra = await push(alice, aliceClient, [op(4, 'doc.share', { name: 'team/plan', user: 'carol', role: 'editor' })])
    assert(ra.json.results[0].status === 'applied' && ra.json.results[0].result.role === 'editor', ra.text)
    const c = uuid()
    let seq = 0
    // Applied to the auth store just after the commit: poll briefly.
    let ok = false
    for (let i = 0; i < 50 && !ok; i++) {
      const r = await push(carol, c, [op(++seq, 'doc.rename', { name: 'team/plan', title: 'Carol edits' })])
      ok = r.json.results[0].status === 'applied'
      if (!ok) await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert(ok, 'carol may rename after the share')
    const bad = await push(alice, aliceClient, [op(5, 'doc.share', { name: 'team/plan', user: 'nobody', role: 'viewer' })])
    assert(bad.json.results[0].error.code === 'USER_NOT_FOUND', bad.text)
    const rb = await push(bob, uuid(), [op(1, 'doc.share', { name: 'team/plan', user: 'bob', role: 'owner' })])
    assert(rb.json.results[0].error.code === 'FORBIDDEN', 'a viewer cannot share: ' + rb.text)
    const un = await push(alice, aliceClient, [op(6, 'doc.unshare', { name: 'team/plan', user: 'carol' })])
    assert(un.json.results[0].status === 'applied', un.text)
    let gone = false
    for (let i = 0; i < 50 && !gone; i++) {
      const r = await push(carol, c, [op(++seq, 'doc.rename', { name: 'team/plan', title: 'again' })])
      gone = r.json.results[0].status === 'rejected' && r.json.results[0].error.code === 'FORBIDDEN'
      if (!gone) await new Promise(resolve => setTimeout(resolve, 50))
    }
    assert(gone, 'carol may not rename after the unshare')
  },

  async 'the feed shows each user what it may see' () {
    const a = await feed(alice)
    assert(a.filter(c => c.clientId === aliceClient).length === 5, 'alice sees her five applied ops (3 + share + unshare)')
    const b = await feed(bob)
    assert(b.some(c => c.type === 'doc.rename' && c.payload.name === 'team/plan'), 'bob (viewer) sees the document ops')
    assert(!b.some(c => c.type === 'todo.add' && c.payload.text === 'secret'), "bob does not see alice's todo")
    const c = await feed(carol)
    assert(!c.some(x => x.type === 'doc.create'), 'carol (no role any more) sees no team document ops')
  }
})
await stopServer(server)
removeDir(dir)
process.exit(failed ? 1 : 0)
