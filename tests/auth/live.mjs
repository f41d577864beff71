// Live effects on open WebSockets: ending a session closes its sockets with
// 4401 at once, role changes apply at once (4403 when revoked), a viewer gets
// the document but its updates are refused and never applied, and refresh
// rotates the token without dropping the connection.
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import {
  startAuthServer, stopServer, removeDir, mintToken, api, wsOpen, textUpdate, closedWithin, waitFor, sleep, run, assert, Y
} from './lib.mjs'

const server = await startAuthServer()
const dir = server.dataDir
const owner = mintToken(dir, 'owner')

function provider (doc, name, token) {
  const ydoc = new Y.Doc()
  const p = new WebsocketProvider(server.ws, doc, ydoc, {
    WebSocketPolyfill: WebSocket, disableBc: true, maxBackoffTime: 200, params: { token }
  })
  return { ydoc, p }
}

async function docText (doc) {
  const r = await api(server, 'GET', `/api/docs/${doc}`, { token: owner })
  assert(r.status === 200, `GET doc: ${r.status} ${r.text}`)
  return JSON.stringify(r.json)
}

const failed = await run({
  async 'listing shows only names the caller may see, and fills its page past hidden ones' () {
    for (let i = 0; i < 30; i++) {
      const name = `list-${String(i).padStart(2, '0')}`
      const w = await api(server, 'POST', `/api/docs/${name}/update`, { token: owner, body: textUpdate(name) })
      assert(w.status === 200, `create ${name}: ${w.status} ${w.text}`)
    }
    const reader = mintToken(dir, 'lister')
    for (const name of ['list-05', 'list-25']) {
      const g = await api(server, 'PUT', `/api/docs/${name}/roles/lister`, { token: owner, json: { role: 'viewer' } })
      assert(g.status === 200, `grant ${name}: ${g.status} ${g.text}`)
    }
    const mine = await api(server, 'GET', '/api/docs?prefix=list-&limit=2', { token: reader })
    assert(mine.status === 200, 'list: ' + mine.text)
    assert(JSON.stringify(mine.json.documents.map(d => d.name)) === '["list-05","list-25"]', 'reader sees its two: ' + mine.text)
    const all = await api(server, 'GET', '/api/docs?prefix=list-&limit=2', { token: owner })
    assert(all.json.documents.length === 2 && all.json.nextCursor, 'owner page of two with a cursor: ' + all.text)
    const next = await api(server, 'GET', `/api/docs?prefix=list-&limit=2&cursor=${all.json.nextCursor}`, { token: owner })
    assert(JSON.stringify(next.json.documents.map(d => d.name)) === '["list-02","list-03"]', 'second page: ' + next.text)
  },
  async 'ending a session closes its live sockets with 4401' () {
    const tok = mintToken(dir, 'owner')
    const other = mintToken(dir, 'owner') // another session of the same user stays
    const a = await wsOpen(server, 'live-1', tok)
    const b = await wsOpen(server, 'live-1', tok)
    const c = await wsOpen(server, 'live-1', other)
    assert(a.status === 101 && b.status === 101 && c.status === 101, 'connected')
    const t0 = Date.now()
    const r = await api(server, 'DELETE', '/api/session', { token: tok })
    assert(r.status === 200 && r.json.connectionsClosed === 2, 'sign out: ' + r.text)
    const ca = await closedWithin(a, 3000)
    const cb = await closedWithin(b, 3000)
    assert(ca && ca.code === 4401 && cb && cb.code === 4401, `closed with 4401: ${JSON.stringify([ca, cb])}`)
    console.log(`     closed ${Date.now() - t0} ms after DELETE /api/session`)
    assert(c.closed() === null, 'the other session stays open')
    const again = await wsOpen(server, 'live-1', tok)
    assert(again.status === 401 && again.body.error.code === 'SESSION_REVOKED', 'revoked token cannot reconnect')
    // Revoking one's other session by id also closes its sockets.
    const list = await api(server, 'GET', '/api/sessions', { token: other })
    const mine = list.json.sessions.find(s => s.current)
    assert(mine, 'current session listed: ' + list.text)
    const byId = await api(server, 'DELETE', `/api/sessions/${mine.id}`, { token: owner })
    assert(byId.status === 200 && byId.json.connectionsClosed === 1, 'revoke by id: ' + byId.text)
    const cc = await closedWithin(c, 3000)
    assert(cc && cc.code === 4401, 'revoked by id -> 4401: ' + JSON.stringify(cc))
  },

  async 'a viewer receives the document but its updates are refused' () {
    const viewerTok = mintToken(dir, 'viewer')
    const w = await api(server, 'POST', '/api/docs/live-2/update', { token: owner, body: textUpdate('owner text') })
    assert(w.status === 200, 'owner writes: ' + w.text)
    const g = await api(server, 'PUT', '/api/docs/live-2/roles/viewer', { token: owner, json: { role: 'viewer' } })
    assert(g.status === 200, 'grant viewer: ' + g.text)
    const before = await docText('live-2')
    const ownerClient = provider('live-2', 'owner', owner)
    const viewer = provider('live-2', 'viewer', viewerTok)
    try {
      await waitFor('both synced', () => ownerClient.p.synced && viewer.p.synced)
      assert(viewer.ydoc.getText('t').toString() === 'owner text', 'viewer got the document: ' + viewer.ydoc.getText('t').toString())
      viewer.ydoc.getText('t').insert(0, 'VIEWER WAS HERE ')
      await sleep(800)
      assert(!ownerClient.ydoc.getText('t').toString().includes('VIEWER'), 'the owner never sees the viewer edit')
      assert(await docText('live-2') === before, 'the stored document did not change')
      // The connection stays open: viewers still receive changes.
      ownerClient.ydoc.getText('t').insert(0, 'more ')
      await waitFor('viewer receives owner edit', () => viewer.ydoc.getText('t').toString().includes('more '), 5000)
    } finally {
      ownerClient.p.destroy()
      viewer.p.destroy()
    }
  },

  async 'role changes apply to live connections at once' () {
    const edTok = mintToken(dir, 'editor2')
    await api(server, 'POST', '/api/docs/live-3/update', { token: owner, body: textUpdate('base') })
    let r = await api(server, 'PUT', '/api/docs/live-3/roles/editor2', { token: owner, json: { role: 'editor' } })
    assert(r.status === 200, 'grant editor: ' + r.text)
    const ed = provider('live-3', 'editor2', edTok)
    const closes = []
    ed.p.on('connection-close', e => closes.push(e && e.code))
    try {
      await waitFor('editor synced', () => ed.p.synced)
      ed.ydoc.getText('t').insert(0, 'E1 ')
      await waitFor('editor edit stored', async () => (await docText('live-3')).includes('E1 '), 5000)
      // Down to viewer: same connection, the next edit is refused.
      r = await api(server, 'PUT', '/api/docs/live-3/roles/editor2', { token: owner, json: { role: 'viewer' } })
      assert(r.status === 200, 'demote: ' + r.text)
      ed.ydoc.getText('t').insert(0, 'E2 ')
      await sleep(800)
      assert(!(await docText('live-3')).includes('E2 '), 'edit after demotion not stored')
      assert(ed.p.wsconnected, 'still connected as viewer')
      // Revoked: the connection closes with 4403 and cannot come back.
      r = await api(server, 'DELETE', '/api/docs/live-3/roles/editor2', { token: owner })
      assert(r.status === 200 && r.json.role === 'none', 'revoke: ' + r.text)
      await waitFor('4403 close', () => closes.includes(4403), 5000)
      const again = await wsOpen(server, 'live-3', edTok)
      assert(again.status === 403, 'no role -> upgrade refused with 403: ' + again.status)
    } finally {
      ed.p.destroy()
    }
    // The last owner cannot step down.
    r = await api(server, 'DELETE', '/api/docs/live-3/roles/owner', { token: owner })
    assert(r.status === 409 && r.json.error.code === 'LAST_OWNER', 'last owner: ' + r.text)
    r = await api(server, 'PUT', '/api/docs/live-3/roles/nobody-such', { token: owner, json: { role: 'viewer' } })
    assert(r.status === 404 && r.json.error.code === 'USER_NOT_FOUND', 'unknown user: ' + r.text)
    r = await api(server, 'PUT', '/api/docs/live-3/roles/editor2', { token: owner, json: { role: 'admin' } })
    assert(r.status === 400 && r.json.error.code === 'VALIDATION_FAILED', 'bad role: ' + r.text)
  },

  async 'refresh rotates the token and keeps the connection' () {
    const tok = mintToken(dir, 'owner')
    const conn = await wsOpen(server, 'live-4', tok)
    assert(conn.status === 101, 'connected')
    const r = await api(server, 'POST', '/api/session/refresh', { token: tok })
    assert(r.status === 200 && r.json.token && r.json.token !== tok, 'refresh: ' + r.text)
    assert((await api(server, 'GET', '/api/session', { token: tok })).status === 401, 'old token stops working')
    const s = await api(server, 'GET', '/api/session', { token: r.json.token })
    assert(s.status === 200 && s.json.user.name === 'owner', 'new token works: ' + s.text)
    await sleep(200)
    assert(conn.closed() === null, 'socket still open')
    // Ending the refreshed session still closes the socket (same session id).
    await api(server, 'DELETE', '/api/session', { token: r.json.token })
    const c = await closedWithin(conn, 3000)
    assert(c && c.code === 4401, 'closed after sign-out: ' + JSON.stringify(c))
  },

  async 'pattern grants from the token command' () {
    const tok = mintToken(dir, 'reader', { role: 'viewer', doc: 'team-*' })
    await api(server, 'POST', '/api/docs/team-a/update', { token: owner, body: textUpdate('team') })
    const roles = await api(server, 'GET', '/api/docs/team-a/roles', { token: tok })
    assert(roles.status === 200 && roles.json.yourRole === 'viewer', 'viewer by pattern: ' + roles.text)
    const w = await api(server, 'POST', '/api/docs/team-a/update', { token: tok, body: textUpdate('no') })
    assert(w.status === 403, 'viewer by pattern cannot write: ' + w.status)
    const outside = await api(server, 'GET', '/api/docs/live-2', { token: tok })
    assert(outside.status === 403, 'outside the pattern: ' + outside.status)
  }
})

await stopServer(server)
if (!failed) removeDir(dir)
process.exit(failed ? 1 : 0)
