// A consumer that stops reading is not silently dropped: its send queue is
// collapsed into one state update (metric corates_queue_collapses_total), and
// it either catches up to the exact content or is closed with 1013.
import { Y, assert, connect, removeDir, run, startServer, stopServer, synced, sleep, tempDir, waitFor, rawClient } from './lib.mjs'
import * as decoding from 'lib0/decoding'

const dir = tempDir()
const server = await startServer({ dataDir: dir, extraArgs: ['--send-queue-messages', '16', '--send-queue-bytes', '65536'] })

const failed = await run({
  async 'a stalled consumer gets a collapsed queue, then catches up or is closed with 1013' () {
    const writer = connect(server, 'slow')
    await synced(writer)
    const raw = await rawClient(server, 'slow')
    const mirror = new Y.Doc()
    raw.ws.on('message', m => {
      const dec = decoding.createDecoder(new Uint8Array(m))
      if (decoding.readVarUint(dec) !== 0) return
      const sub = decoding.readVarUint(dec)
      if (sub === 1 || sub === 2) Y.applyUpdate(mirror, decoding.readVarUint8Array(dec))
    })
    raw.ws._socket.pause()  // stop reading: the kernel buffers fill, then the server's queue
    const chunk = 'x'.repeat(8192)
    for (let i = 0; i < 1000; i++) {
      writer.doc.getArray('a').push([chunk + i])
      if (i % 50 === 0) await sleep(5)
    }
    await waitFor('a collapse', async () => {
      const m = await (await fetch(`${server.http}/metrics`)).text()
      return /^corates_queue_collapses_total [1-9]/m.test(m)
    }, 20000)
    raw.ws._socket.resume()
    await waitFor('caught up or closed', () => raw.closed() !== null || mirror.getArray('a').length === 1000, 20000)
    if (raw.closed() !== null) {
      console.log('  closed with', raw.closed().code)
      assert(raw.closed().code === 1013, 'closed with 1013, got ' + JSON.stringify(raw.closed()))
    } else {
      console.log('  caught up')
      assert(JSON.stringify(mirror.getArray('a').toJSON()) === JSON.stringify(writer.doc.getArray('a').toJSON()), 'exact content after catching up')
      raw.ws.close()
    }
    writer.provider.destroy()
  }
})

const st = await stopServer(server)
removeDir(dir)
if (st.code !== 0) { console.log('FAIL server exit status ' + st.code); process.exit(1) }
process.exit(failed ? 1 : 0)
