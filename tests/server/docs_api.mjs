// The document API beyond read/post: list with pagination, delete (live
// connections closed with 4404, storage removed, a new epoch afterwards) and
// the one-round-trip reconcile, with real Yjs documents and clients.
import {
  startServer, stopServer, tempDir, removeDir, connect, synced, waitFor, sleep, rawClient, run, assert, Y
} from './lib.mjs'

const b64url = bytes => Buffer.from(bytes).toString('base64url')
const fromB64url = s => new Uint8Array(Buffer.from(s, 'base64url'))

async function post (server, name, doc) {
  const r = await fetch(`${server.http}/api/docs/${encodeURIComponent(name)}/update`, {
    method: 'POST', body: Y.encodeStateAsUpdate(doc), headers: { 'content-type': 'application/octet-stream' }
  })
  if (r.status !== 200) assert(false, `POST ${name}: ${r.status} ${await r.text()}`)
  return r.json()
}

function textDoc (text, clientID) {
  const d = new Y.Doc()
  if (clientID !== undefined) d.clientID = clientID
  d.getText('t').insert(0, text)
  return d
}

const dataDir = tempDir()
const server = await startServer({ dataDir })

const failed = await run({
  'list: names, sizes, last change, prefix and pagination': async () => {
    const t0 = Date.now()
    for (const name of ['list/a', 'list/b', 'list/c', 'list/d', 'list/e', 'other']) {
      await post(server, name, textDoc('content of ' + name))
    }
    const all = []
    let cursor = ''
    let pages = 0
    for (;;) {
      const q = new URLSearchParams({ prefix: 'list/', limit: '2' })
      if (cursor) q.set('cursor', cursor)
      const r = await fetch(`${server.http}/api/docs?${q}`)
      assert(r.status === 200, 'list 200, got ' + r.status)
      const page = await r.json()
      assert(page.documents.length <= 2, 'limit respected')
      all.push(...page.documents)
      pages++
      if (page.nextCursor === null) break
      cursor = page.nextCursor
      assert(pages < 10, 'pagination ends')
    }
    assert(pages === 3, 'three pages of two, got ' + pages)
    assert(JSON.stringify(all.map(d => d.name)) === JSON.stringify(['list/a', 'list/b', 'list/c', 'list/d', 'list/e']),
      'names in order: ' + all.map(d => d.name))
    for (const d of all) {
      assert(d.size > 0, 'size > 0')
      assert(/^[0-9a-f]{32}$/.test(d.epoch), 'epoch is 32 hex digits')
      assert(d.lastSeq === 1, 'one update stored')
      const t = Date.parse(d.lastChange)
      assert(/Z$/.test(d.lastChange) && t >= t0 - 2000 && t <= Date.now() + 2000, 'lastChange is recent: ' + d.lastChange)
    }
    const everything = await (await fetch(`${server.http}/api/docs`)).json()
    assert(everything.documents.some(d => d.name === 'other'), 'no prefix lists everything')
    assert((await fetch(`${server.http}/api/docs?limit=0`)).status === 400, 'limit 0 refused')
    assert((await fetch(`${server.http}/api/docs?limit=abc`)).status === 400, 'limit abc refused')
    assert((await fetch(`${server.http}/api/docs?cursor=%ff%fe`)).status === 400, 'bad cursor refused')
  },

  'delete: connections closed with 4404, storage removed, new epoch after': async () => {
    const a = connect(server, 'doomed')
    await synced(a)
    a.doc.getText('t').insert(0, 'old content')
    await waitFor('stored', async () => (await fetch(`${server.http}/api/docs/doomed`)).status === 200)
    const before = (await post(server, 'doomed', new Y.Doc())).epoch
    // A raw client to see the close code (the provider reconnects by itself).
    const raw = await rawClient(server, 'doomed')
    a.provider.disconnect()
    const del = await fetch(`${server.http}/api/docs/doomed`, { method: 'DELETE' })
    assert(del.status === 200, 'DELETE 200, got ' + del.status)
    const body = await del.json()
    assert(body.deleted === true && body.connectionsClosed >= 1, 'delete body ' + JSON.stringify(body))
    const closed = await Promise.race([raw.closedP, sleep(5000).then(() => null)])
    assert(closed && closed.code === 4404 && closed.reason === 'document deleted', 'closed 4404: ' + JSON.stringify(closed))
    assert((await fetch(`${server.http}/api/docs/doomed`)).status === 404, 'gone over HTTP')
    assert((await fetch(`${server.http}/api/docs/doomed`, { method: 'DELETE' })).status === 404, 'second DELETE 404')
    const listed = await (await fetch(`${server.http}/api/docs?prefix=doomed`)).json()
    assert(listed.documents.length === 0, 'not listed')
    // A fresh client opens an empty document; its first write creates a new generation.
    const b = connect(server, 'doomed')
    await synced(b)
    assert(b.doc.getText('t').toString() === '', 'opens empty, got ' + b.doc.getText('t').toString())
    const after = await post(server, 'doomed', textDoc('new life'))
    assert(/^[0-9a-f]{32}$/.test(after.epoch) && after.epoch !== before, 'new epoch')
    assert(after.seq === 1, 'seq restarts at 1, got ' + after.seq)
    await waitFor('new content reaches b', () => b.doc.getText('t').toString() === 'new life')
    b.provider.destroy()
    a.provider.destroy()
    raw.ws.close()
  },

  'reconcile: one round trip merges both ways': async () => {
    const server0 = textDoc('server side ', 1)
    await post(server, 'rec', server0)
    const watcher = connect(server, 'rec')
    await synced(watcher)
    // An offline client with its own edits and a copy of nothing.
    const client = textDoc('client side ', 2)
    client.getMap('m').set('k', 42)
    const r = await fetch(`${server.http}/api/reconcile/doc/rec`, {
      method: 'POST', body: Y.encodeStateAsUpdate(client), headers: { 'content-type': 'application/octet-stream' }
    })
    assert(r.status === 200, 'reconcile 200, got ' + r.status + ' ' + await r.clone().text())
    const res = await r.json()
    assert(res.changed === true, 'changed')
    assert(/^[0-9a-f]{32}$/.test(res.epoch), 'epoch')
    Y.applyUpdate(client, fromB64url(res.update))
    assert(b64url(Y.encodeStateVector(client)) === res.stateVector, 'client now has the server state vector')
    const serverState = new Uint8Array(await (await fetch(`${server.http}/api/docs/rec/update`)).arrayBuffer())
    const check = new Y.Doc()
    Y.applyUpdate(check, serverState)
    assert(check.getText('t').toString() === client.getText('t').toString(), 'same text on both sides')
    assert(check.getMap('m').get('k') === 42, 'server got the map')
    // Broadcast to the room like any update.
    await waitFor('watcher sees the client edit', () => watcher.doc.getMap('m').get('k') === 42)
    // Nothing new: unchanged, and the answer is empty of structs.
    const again = await (await fetch(`${server.http}/api/reconcile/doc/rec`, {
      method: 'POST', body: Y.encodeStateAsUpdate(client)
    })).json()
    assert(again.changed === false, 'second reconcile changes nothing')
    const d = Y.decodeUpdate(fromB64url(again.update))
    assert(d.structs.length === 0, 'nothing to send back')
    // Epoch guard: a stale generation is refused, nothing applied.
    const stale = await fetch(`${server.http}/api/reconcile/doc/rec?epoch=${'0'.repeat(32)}`, {
      method: 'POST', body: Y.encodeStateAsUpdate(textDoc('zombie', 3))
    })
    assert(stale.status === 409, 'stale epoch 409, got ' + stale.status)
    assert((await stale.json()).error.code === 'EPOCH_MISMATCH', 'EPOCH_MISMATCH')
    const ok = await fetch(`${server.http}/api/reconcile/doc/rec?epoch=${res.epoch}`, {
      method: 'POST', body: Y.encodeStateAsUpdate(client)
    })
    assert(ok.status === 200, 'matching epoch accepted')
    const json = await (await fetch(`${server.http}/api/docs/rec`)).json()
    assert(!JSON.stringify(json).includes('zombie'), 'nothing of the refused state')
    // Garbage is a 400; nothing changes.
    const bad = await fetch(`${server.http}/api/reconcile/doc/rec`, { method: 'POST', body: new Uint8Array([1, 1, 255, 255]) })
    assert(bad.status === 400, 'undecodable state 400, got ' + bad.status)
    const empty = await fetch(`${server.http}/api/reconcile/doc/rec`, { method: 'POST' })
    assert(empty.status === 400, 'empty body 400')
    watcher.provider.destroy()
  },

  'reconcile a document the server does not have': async () => {
    const client = textDoc('brand new', 5)
    const res = await (await fetch(`${server.http}/api/reconcile/doc/fresh`, {
      method: 'POST', body: Y.encodeStateAsUpdate(client)
    })).json()
    assert(res.changed === true && res.seq === 1, 'stored as the first update')
    assert(Y.decodeUpdate(fromB64url(res.update)).structs.length === 0, 'the client lacks nothing')
    const json = await (await fetch(`${server.http}/api/docs/fresh`)).json()
    assert(json.t === 'brand new', 'content stored: ' + JSON.stringify(json))
  }
})

await stopServer(server)
removeDir(dataDir)
process.exit(failed ? 1 : 0)
