// The opt-in WebSocket extensions (docs/protocol-extensions.md) with raw `ws`
// clients speaking y-protocols by hand, and stock y-websocket providers that
// must never see them; awareness expiry with a short timeout.
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  startServer, stopServer, tempDir, removeDir, connect, synced, waitFor, sleep, rawClient, run, assert, Y
} from './lib.mjs'

const MESSAGE_ACK = 100
const MESSAGE_EPOCH = 101

function syncUpdateFrame (update) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  syncProtocol.writeUpdate(e, update)
  return encoding.toUint8Array(e)
}

// {type, value} for ack/epoch frames, {type} for the rest.
function parse (m) {
  const d = decoding.createDecoder(m)
  const type = decoding.readVarUint(d)
  if (type === MESSAGE_ACK) return { type, value: decoding.readVarUint(d), rest: decoding.hasContent(d) }
  if (type === MESSAGE_EPOCH) return { type, value: decoding.readVarString(d), rest: decoding.hasContent(d) }
  return { type }
}

function updateOf (text, clientID) {
  const d = new Y.Doc()
  d.clientID = clientID
  d.getText('t').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

const dataDir = tempDir()
const server = await startServer({ dataDir, extraArgs: ['--awareness-timeout-ms', '600'] })

const failed = await run({
  'epoch: first message on join, announced when the document is created': async () => {
    const c = await rawClient(server, 'ep?ext=epoch')
    await waitFor('greeting', () => c.messages.length >= 2)
    const first = parse(c.messages[0])
    assert(first.type === MESSAGE_EPOCH && first.value === '' && !first.rest, 'epoch "" first: ' + JSON.stringify(first))
    assert(c.messages[0].length === 2 && c.messages[0][0] === 0x65 && c.messages[0][1] === 0, 'bytes 65 00')
    assert(parse(c.messages[1]).type === 0, 'then sync step 1')
    c.ws.send(syncUpdateFrame(updateOf('hello', 1)))
    await waitFor('epoch announced', () => c.messages.some(m => { const p = parse(m); return p.type === MESSAGE_EPOCH && p.value.length === 32 }))
    const epoch = c.messages.map(parse).find(p => p.type === MESSAGE_EPOCH && p.value).value
    assert(/^[0-9a-f]{32}$/.test(epoch), 'hex epoch')
    // A later joiner hears it first thing; it matches the HTTP view.
    const d = await rawClient(server, 'ep?ext=ack%2Cepoch')
    await waitFor('greeting', () => d.messages.length >= 1)
    assert(parse(d.messages[0]).value === epoch, 'joiner gets the same epoch')
    const listed = await (await fetch(`${server.http}/api/docs?prefix=ep`)).json()
    assert(listed.documents[0].epoch === epoch, 'same epoch as the list')
    // Delete: 4404; reconnect: "" again, then a new epoch.
    await fetch(`${server.http}/api/docs/ep`, { method: 'DELETE' })
    const closed = await Promise.race([d.closedP, sleep(5000).then(() => null)])
    assert(closed && closed.code === 4404, 'closed with 4404')
    const e = await rawClient(server, 'ep?ext=epoch')
    await waitFor('greeting', () => e.messages.length >= 1)
    assert(parse(e.messages[0]).value === '', 'empty again after delete')
    e.ws.send(syncUpdateFrame(updateOf('again', 2)))
    await waitFor('new epoch', () => e.messages.some(m => { const p = parse(m); return p.type === MESSAGE_EPOCH && p.value.length === 32 }))
    const epoch2 = e.messages.map(parse).find(p => p.type === MESSAGE_EPOCH && p.value).value
    assert(epoch2 !== epoch, 'a new generation')
    for (const x of [c, d, e]) x.ws.close()
  },

  'ack: counts update messages once durable, duplicates included': async () => {
    const c = await rawClient(server, 'acked?ext=ack')
    await waitFor('greeting', () => c.messages.length >= 1)
    const u1 = updateOf('one', 10)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, u1)
    doc.clientID = 10
    doc.getText('t').insert(0, 'two ')
    const u2 = Y.encodeStateAsUpdate(doc)
    c.ws.send(syncUpdateFrame(u1))
    c.ws.send(syncUpdateFrame(u1)) // changes nothing: acked all the same
    // sync step 2 counts too
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0)
    syncProtocol.writeSyncStep2(e, doc)
    c.ws.send(encoding.toUint8Array(e))
    c.ws.send(syncUpdateFrame(u2))
    await waitFor('ack 4', () => c.messages.some(m => { const p = parse(m); return p.type === MESSAGE_ACK && p.value === 4 }))
    const acks = c.messages.map(parse).filter(p => p.type === MESSAGE_ACK).map(p => p.value)
    assert(acks.every((v, i) => i === 0 || v > acks[i - 1]), 'strictly increasing: ' + acks)
    assert(!c.messages.some(m => parse(m).type === MESSAGE_EPOCH), 'no epoch without asking')
    // Acked means durable: it survives a kill -9 right now.
    server.proc.kill('SIGKILL')
    await server.exited
    const again = await startServer({ dataDir, extraArgs: ['--awareness-timeout-ms', '600'] })
    Object.assign(server, again)
    const json = await (await fetch(`${server.http}/api/docs/acked`)).json()
    assert(json.t === 'two one', 'acked content survived kill -9: ' + JSON.stringify(json))
  },

  'stock y-websocket clients never receive extension messages': async () => {
    const a = connect(server, 'stock')
    const b = connect(server, 'stock', new Y.Doc(), { params: { ext: 'ack,epoch' } })
    const seen = { a: [], b: [] }
    for (const [name, c] of Object.entries({ a, b })) {
      c.provider.ws?.addEventListener?.('message', ev => seen[name].push(new Uint8Array(ev.data)[0]))
      c.provider.on('status', ({ status }) => {
        if (status === 'connected') c.provider.ws.addEventListener('message', ev => seen[name].push(new Uint8Array(ev.data)[0]))
      })
    }
    await synced(a)
    await synced(b)
    a.doc.getText('t').insert(0, 'from a')
    b.doc.getText('t').insert(0, 'from b ')
    await waitFor('converged', () => a.doc.getText('t').toString() === b.doc.getText('t').toString() &&
      a.doc.getText('t').length === 13)
    await sleep(200)
    assert(seen.a.length > 0 && seen.a.every(t => t <= 3), 'plain client saw only y-protocols types: ' + seen.a)
    assert(seen.b.includes(MESSAGE_ACK) && seen.b.includes(MESSAGE_EPOCH), 'opted-in client saw both: ' + seen.b)
    a.provider.destroy()
    b.provider.destroy()
  },

  'awareness: silent states expire and the removal is broadcast': async () => {
    // A raw client announces one state and then stays silent (a y-protocols
    // Awareness would renew it, and re-announce it when told it was removed).
    const silentId = 424242
    const src = new awarenessProtocol.Awareness(new Y.Doc())
    src.clientID = silentId
    src.doc.clientID = silentId
    src.setLocalState({ user: 'a' })
    src.setLocalState({ user: 'a' })  // clock 1: peers ignore clock 0 for a client they never saw
    const announce = encoding.createEncoder()
    encoding.writeVarUint(announce, 1)
    encoding.writeVarUint8Array(announce, awarenessProtocol.encodeAwarenessUpdate(src, [silentId]))
    src.destroy()
    const b = connect(server, 'aw')
    await synced(b)
    const a = await rawClient(server, 'aw')
    a.ws.send(encoding.toUint8Array(announce))
    const removed = []
    b.provider.awareness.on('change', ({ removed: r }) => removed.push(...r))
    await waitFor('b sees a', () => b.provider.awareness.getStates().has(silentId))
    const t0 = Date.now()
    await waitFor('b hears the removal', () => removed.includes(silentId), 5000)
    const ms = Date.now() - t0
    assert(ms >= 100, 'not before the timeout: ' + ms)
    // The server dropped the state: a query answer no longer carries it.
    const c = await rawClient(server, 'aw')
    const q = encoding.createEncoder()
    encoding.writeVarUint(q, 3)
    c.ws.send(encoding.toUint8Array(q))
    await waitFor('answer', () => c.messages.some(m => m[0] === 1 && m.length > 2))
    const answers = c.messages.filter(m => m[0] === 1)
    const last = answers[answers.length - 1]
    const d = decoding.createDecoder(last)
    decoding.readVarUint(d)
    const upd = decoding.readVarUint8Array(d)
    const probe = new awarenessProtocol.Awareness(new Y.Doc())
    awarenessProtocol.applyAwarenessUpdate(probe, upd, 'server')
    assert(!probe.getStates().has(silentId), 'server forgot the silent state')
    probe.destroy()
    b.provider.destroy()
    a.ws.close()
    c.ws.close()
  },

  'a client sending an extension type is closed with 4400': async () => {
    const c = await rawClient(server, 'bad-ext?ext=ack')
    c.ws.send(new Uint8Array([MESSAGE_ACK, 1]))
    const closed = await Promise.race([c.closedP, sleep(5000).then(() => null)])
    assert(closed && closed.code === 4400, 'closed 4400: ' + JSON.stringify(closed))
  }
})

await stopServer(server)
removeDir(dataDir)
process.exit(failed ? 1 : 0)
