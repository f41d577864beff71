// Nothing acknowledged is lost: a graceful restart keeps everything, and a
// kill -9 under load keeps every update any client saw broadcast.
import {
  Y, assert, connect, removeDir, run, startServer, stopServer, synced, sameState, sleep, tempDir, waitFor
} from './lib.mjs'

const R = { t: 'text', m: 'map', arr: 'array' }
const dir = tempDir()

// sv[client] of `have` covers sv[client] of `need` for every client in `clients`.
function covers (have, need, clients) {
  const h = Y.decodeStateVector(Y.encodeStateVector(have))
  const n = Y.decodeStateVector(Y.encodeStateVector(need))
  return clients.every(c => (h.get(c) || 0) >= (n.get(c) || 0))
}

const failed = await run({
  async 'graceful restart (SIGTERM) keeps everything and exits 0' () {
    let server = await startServer({ dataDir: dir })
    const a = connect(server, 'restart')
    const b = connect(server, 'restart')
    await synced(a); await synced(b)
    a.doc.getText('t').insert(0, 'persist me')
    a.doc.getMap('m').set('k', 'v')
    b.doc.getArray('arr').push([1, 2, 3])
    await waitFor('both converge', () => sameState([a.doc, b.doc], R))
    const port = server.port
    a.provider.destroy(); b.provider.destroy()
    const st = await stopServer(server)
    assert(st.code === 0, 'exit status 0 after SIGTERM, got ' + st.code)
    assert(st.ms < 11000, 'stopped within the shutdown timeout: ' + st.ms + ' ms')
    server = await startServer({ dataDir: dir, listen: `127.0.0.1:${port}` })
    const c = connect(server, 'restart')
    await synced(c)
    await waitFor('content after restart', () => sameState([a.doc, c.doc], R), 5000)
    c.provider.destroy()
    await stopServer(server)
  },

  async 'SIGTERM closes connected clients with 1001' () {
    const server = await startServer({ dataDir: dir })
    const a = connect(server, 'bye')
    await synced(a)
    let code = null
    a.provider.ws.addEventListener('close', e => { code = e.code })
    a.provider.shouldConnect = false
    const st = await stopServer(server)
    assert(st.code === 0, 'exit 0, got ' + st.code)
    await waitFor('close event', () => code !== null, 3000)
    assert(code === 1001, 'close code 1001, got ' + code)
    a.provider.destroy()
  },

  async 'kill -9 under load loses nothing that was broadcast' () {
    let server = await startServer({ dataDir: dir })
    const port = server.port
    const a = connect(server, 'load')
    const b = connect(server, 'load')
    await synced(a); await synced(b)
    let stop = false
    const writer = (async () => {
      for (let i = 0; i < 5000 && !stop; i++) {
        a.doc.getText('t').insert(0, `a${i} `)
        b.doc.getMap('m').set(`k${i % 50}`, i)
        if (i % 5 === 0) await sleep(1)
      }
    })()
    await sleep(700)
    // Snapshot what each saw of the other (broadcast means durable), then kill.
    a.provider.shouldConnect = false; b.provider.shouldConnect = false
    const sawA = new Y.Doc(); Y.applyUpdate(sawA, Y.encodeStateAsUpdate(b.doc))
    const sawB = new Y.Doc(); Y.applyUpdate(sawB, Y.encodeStateAsUpdate(a.doc))
    server.proc.kill('SIGKILL')
    stop = true
    await writer
    await server.exited
    a.provider.destroy(); b.provider.destroy()
    assert(sawA.getText('t').length > 0, 'b saw some of a\'s edits before the kill')
    server = await startServer({ dataDir: dir, listen: `127.0.0.1:${port}` })
    const d = connect(server, 'load')
    await synced(d)
    await sleep(200)
    assert(covers(d.doc, sawA, [a.doc.clientID]), 'everything of a that b saw survived')
    assert(covers(d.doc, sawB, [b.doc.clientID]), 'everything of b that a saw survived')
    d.provider.destroy()
    await stopServer(server)
  }
})

removeDir(dir)
process.exit(failed ? 1 : 0)
