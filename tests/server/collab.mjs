// Stock y-websocket clients (WebsocketProvider 3.x over `ws`) collaborate
// through corates-sync: convergence, late joiners, awareness, the diff answer
// to sync step 1, and the HTTP document API agreeing with real Yjs.
import {
  Y, assert, canonical, connect, removeDir, run, startServer, stopServer, synced, sameState, sleep, tempDir, waitFor, rawClient
} from './lib.mjs'
import * as syncProtocol from 'y-protocols/sync'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

const LATE = { t: 'text', m: 'map', arr: 'array' }
const dir = tempDir()
const server = await startServer({ dataDir: dir })

function rng (seed) {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

const failed = await run({
  async 'three clients converge on concurrent text, map and array edits' () {
    const clients = [0, 1, 2].map(() => connect(server, 'converge'))
    for (const c of clients) await synced(c)
    const seed = Number(process.env.SEED || 42)
    const rand = rng(seed)
    for (let round = 0; round < 30; round++) {
      for (const [i, c] of clients.entries()) {
        const text = c.doc.getText('text')
        const pos = Math.floor(rand() * (text.length + 1))
        text.insert(pos, `c${i}r${round} `)
        if (rand() < 0.3 && text.length > 3) text.delete(Math.floor(rand() * (text.length - 2)), 2)
        c.doc.getMap('map').set(`k${Math.floor(rand() * 5)}`, { by: i, round })
        c.doc.getArray('array').insert(0, [i * 1000 + round])
      }
      if (round % 10 === 0) await sleep(5)
    }
    await waitFor('convergence', () => sameState(clients.map(c => c.doc)), 15000)
    assert(clients[0].doc.getArray('array').length === 90, 'all array inserts present')
    for (const c of clients) c.provider.destroy()
    console.log(`  seed ${seed}`)
  },

  async 'random disconnects, offline edits and reconnects converge' () {
    const clients = [0, 1, 2].map(() => connect(server, 'offline'))
    for (const c of clients) await synced(c)
    const seed = Number(process.env.SEED || 7)
    const rand = rng(seed)
    for (let round = 0; round < 20; round++) {
      const c = clients[Math.floor(rand() * clients.length)]
      if (c.provider.wsconnected && rand() < 0.5) c.provider.disconnect()
      else if (!c.provider.shouldConnect) c.provider.connect()
      for (const [i, x] of clients.entries()) {
        const t = x.doc.getText('text')
        t.insert(Math.floor(rand() * (t.length + 1)), `o${i}.${round} `)
        x.doc.getMap('map').set(`k${round % 4}`, i)
        x.doc.getArray('array').push([round])
      }
      await sleep(Math.floor(rand() * 30))
    }
    for (const c of clients) if (!c.provider.shouldConnect) c.provider.connect()
    await waitFor('convergence after reconnects', () => sameState(clients.map(c => c.doc)), 15000)
    assert(clients[0].doc.getArray('array').length === 60, 'every offline edit arrived')
    for (const c of clients) c.provider.destroy()
    console.log(`  seed ${seed}`)
  },

  async 'a late joiner receives the whole content; HTTP API agrees with Yjs' () {
    const a = connect(server, 'late')
    await synced(a)
    a.doc.getText('t').insert(0, 'hello world')
    a.doc.getMap('m').set('x', 1)
    a.doc.getArray('arr').push(['a', 2, { b: true }])
    // Wait until the server has it (an HTTP read answers only durable data).
    await waitFor('server has the edits', async () => {
      const r = await fetch(`${server.http}/api/docs/late/state-vector`)
      if (r.status !== 200) return false
      return Buffer.from(await r.arrayBuffer()).equals(Buffer.from(Y.encodeStateVector(a.doc)))
    })
    a.provider.destroy()
    const b = connect(server, 'late')
    await synced(b)
    await waitFor('late joiner content', () => b.doc.getText('t').toString() === 'hello world')
    assert(sameState([a.doc, b.doc], LATE), 'late joiner has the same state')

    const json = await (await fetch(`${server.http}/api/docs/late`)).json()
    assert(JSON.stringify(canonical(json)) === JSON.stringify(canonical(a.doc.toJSON())), 'GET /api/docs/:id equals doc.toJSON(): ' + JSON.stringify(json))

    const upd = new Uint8Array(await (await fetch(`${server.http}/api/docs/late/update`)).arrayBuffer())
    const c = new Y.Doc()
    Y.applyUpdate(c, upd)
    assert(sameState([a.doc, c], LATE), 'GET update rebuilds the document')

    const sv = Buffer.from(Y.encodeStateVector(c)).toString('base64url')
    const diff = new Uint8Array(await (await fetch(`${server.http}/api/docs/late/update?stateVector=${sv}`)).arrayBuffer())
    assert(Buffer.from(diff).equals(Buffer.from(Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(c)))), 'diff for a full state vector is what Yjs encodes')

    // POST an update made by Yjs; the connected client receives it.
    const other = new Y.Doc()
    Y.applyUpdate(other, upd)
    other.getText('t').insert(0, '>> ')
    const post = await fetch(`${server.http}/api/docs/late/update`, {
      method: 'POST', body: Y.encodeStateAsUpdate(other, Y.encodeStateVector(c)), headers: { 'content-type': 'application/octet-stream' }
    })
    assert(post.status === 200, 'POST update 200, got ' + post.status)
    assert((await post.json()).changed === true, 'POST reports a change')
    await waitFor('posted update reaches the client', () => b.doc.getText('t').toString() === '>> hello world')
    b.provider.destroy()
  },

  async 'sync step 1 is answered with only the missing diff' () {
    const a = connect(server, 'diff')
    await synced(a)
    const text = a.doc.getText('t')
    for (let i = 0; i < 200; i++) text.insert(text.length, `line ${i} of a long document\n`)
    await waitFor('server has it', async () => {
      const r = await fetch(`${server.http}/api/docs/diff/state-vector`)
      return r.status === 200 && Buffer.from(await r.arrayBuffer()).equals(Buffer.from(Y.encodeStateVector(a.doc)))
    })
    const mostly = new Y.Doc()
    Y.applyUpdate(mostly, Y.encodeStateAsUpdate(a.doc))
    text.insert(0, 'NEW ')
    await waitFor('server has the new edit', async () => {
      const r = await fetch(`${server.http}/api/docs/diff/state-vector`)
      return Buffer.from(await r.arrayBuffer()).equals(Buffer.from(Y.encodeStateVector(a.doc)))
    })
    const raw = await rawClient(server, 'diff')
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, 0)  // messageSync, as y-websocket frames it
    syncProtocol.writeSyncStep1(enc, mostly)
    raw.ws.send(encoding.toUint8Array(enc))
    await waitFor('step 2', () => raw.messages.some(m => m[0] === 0 && m[1] === 1))
    const step2 = raw.messages.find(m => m[0] === 0 && m[1] === 1)
    const dec = decoding.createDecoder(step2)
    decoding.readVarUint(dec); decoding.readVarUint(dec)
    const update = decoding.readVarUint8Array(dec)
    const expected = Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(mostly))
    assert(Buffer.from(update).equals(Buffer.from(expected)), `step 2 is Yjs's diff (${update.length} vs ${expected.length} bytes)`)
    assert(update.length < Y.encodeStateAsUpdate(a.doc).length / 10, 'diff is small')
    raw.ws.close()
    a.provider.destroy()
  },

  async 'awareness is relayed, and removed when its connection closes' () {
    const a = connect(server, 'aw')
    const b = connect(server, 'aw')
    await synced(a); await synced(b)
    a.provider.awareness.setLocalStateField('user', { name: 'alice' })
    const aId = a.doc.clientID
    await waitFor('b sees a', () => b.provider.awareness.getStates().get(aId)?.user?.name === 'alice')
    // A client joining later gets the current states in the greeting.
    const c = connect(server, 'aw')
    await waitFor('c sees a', () => c.provider.awareness.getStates().get(aId)?.user?.name === 'alice')
    // Close a's socket without a goodbye message: the server must announce the removal.
    a.provider.shouldConnect = false
    a.provider.ws.terminate()
    await waitFor('b sees a removed', () => !b.provider.awareness.getStates().has(aId))
    await waitFor('c sees a removed', () => !c.provider.awareness.getStates().has(aId))
    a.provider.destroy(); b.provider.destroy(); c.provider.destroy()
  },

  async 'a malformed frame closes only that connection with 4400; nothing is applied' () {
    const a = connect(server, 'bad')
    await synced(a)
    a.doc.getText('t').insert(0, 'safe')
    await sleep(100)
    const before = await (await fetch(`${server.http}/api/docs/bad/update`)).arrayBuffer()
    const raw = await rawClient(server, 'bad')
    // sync update whose payload is not a Yjs update
    raw.ws.send(Uint8Array.from([0, 2, 5, 0xff, 0xff, 0xff, 0xff, 0x01]))
    const closed = await Promise.race([raw.closedP, sleep(5000).then(() => null)])
    assert(closed && closed.code === 4400, 'closed with 4400, got ' + JSON.stringify(closed))
    const raw2 = await rawClient(server, 'bad')
    raw2.ws.send(Uint8Array.from([9, 9, 9]))  // unknown message type
    const closed2 = await Promise.race([raw2.closedP, sleep(5000).then(() => null)])
    assert(closed2 && closed2.code === 4400, 'unknown type closed with 4400, got ' + JSON.stringify(closed2))
    const after = await (await fetch(`${server.http}/api/docs/bad/update`)).arrayBuffer()
    assert(Buffer.from(before).equals(Buffer.from(after)), 'document unchanged')
    a.doc.getText('t').insert(4, '!')
    const b = connect(server, 'bad')
    await waitFor('others unaffected', () => b.doc.getText('t').toString() === 'safe!')
    assert(a.provider.wsconnected, 'the good client stayed connected')
    a.provider.destroy(); b.provider.destroy()
  }
})

const stopped = await stopServer(server)
removeDir(dir)
if (stopped.code !== 0) { console.log(`FAIL server exit status ${stopped.code} after SIGTERM`); process.exit(1) }
process.exit(failed ? 1 : 0)
