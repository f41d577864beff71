// Limits at the edge and the HTTP surface: message size (4413), connection
// count (503), document names (400), health/readiness/metrics, the JSON error
// envelope and version headers; configuration from a TOML file and env.
import { assert, removeDir, run, startServer, stopServer, sleep, tempDir, waitFor, rawClient } from './lib.mjs'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'

const dir = tempDir()
const conf = join(dir, 'corates.toml')
writeFileSync(conf, 'max_connections = 2\nidle_timeout_ms = 20000\n')
const server = await startServer({
  dataDir: join(dir, 'data'), extraArgs: ['--config', conf], env: { CORATES_MAX_MESSAGE_BYTES: '4096' }
})

function upgradeStatus (path) {
  return new Promise(resolve => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`)
    ws.on('open', () => { ws.close(); resolve(101) })
    ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy() })
    ws.on('error', () => resolve(-1))
  })
}

const failed = await run({
  async 'oversized message closes with 4413' () {
    const raw = await rawClient(server, 'big')
    const msg = new Uint8Array(10000); msg[0] = 0; msg[1] = 2
    raw.ws.send(msg)
    const closed = await Promise.race([raw.closedP, sleep(5000).then(() => null)])
    assert(closed && closed.code === 4413, 'closed with 4413, got ' + JSON.stringify(closed))
  },

  async 'max_connections refuses the upgrade with 503' () {
    await waitFor('previous connections gone', async () => {
      const m = await (await fetch(`${server.http}/metrics`)).text()
      return /^corates_connections 0$/m.test(m)
    }, 5000)
    const a = await rawClient(server, 'full')
    const b = await rawClient(server, 'full')
    const status = await upgradeStatus('/ws/full')
    assert(status === 503, 'third connection gets 503, got ' + status)
    a.ws.close(); b.ws.close()
    await Promise.all([a.closedP, b.closedP])
    await waitFor('slot freed', async () => (await upgradeStatus('/ws/full')) === 101, 5000)
  },

  async 'bad document names are refused with 400' () {
    for (const p of ['/ws/', '/ws/a%01b', '/ws/%ZZ', '/ws/' + 'x'.repeat(513), '/ws/%C2%85', '/ws/%FF']) {
      const s = await upgradeStatus(p)
      assert(s === 400 || (p === '/ws/' && s === 404), `${p.slice(0, 20)} -> ${s}`)
    }
    const r = await fetch(`${server.http}/api/docs/a%00b`)
    assert(r.status === 400, 'HTTP 400 for a bad name')
    const body = await r.json()
    assert(body.error && body.error.code === 'INVALID_DOC_NAME' && typeof body.error.message === 'string' &&
      Array.isArray(body.error.details) && body.error.requestId === r.headers.get('x-request-id'), 'error envelope ' + JSON.stringify(body))
  },

  async 'health, readiness, metrics and headers' () {
    const h = await fetch(`${server.http}/healthz`)
    assert(h.status === 200, 'healthz 200')
    assert(h.headers.get('x-api-version') && h.headers.get('x-cache-version'), 'version headers')
    const r = await fetch(`${server.http}/readyz`)
    assert(r.status === 200, 'readyz 200')
    const m = await fetch(`${server.http}/metrics`)
    const text = await m.text()
    for (const name of ['corates_connections', 'corates_rooms_loaded', 'corates_updates_received_total',
      'corates_updates_broadcast_total', 'corates_received_bytes_total', 'corates_persist_latency_seconds_bucket',
      'corates_storage_batch_size_bucket', 'corates_protocol_errors_total{kind="too_large"} 1']) {
      assert(text.includes(name), 'metrics mention ' + name)
    }
    const nf = await fetch(`${server.http}/nope`, { headers: { 'X-Request-Id': 'abc-123' } })
    assert(nf.status === 404 && (await nf.json()).error.requestId === 'abc-123', '404 envelope keeps the request id')
    const missing = await fetch(`${server.http}/api/docs/never-written`)
    assert(missing.status === 404, 'unknown document 404, got ' + missing.status)
  }
})

const st = await stopServer(server)
removeDir(dir)
if (st.code !== 0) { console.log('FAIL server exit status ' + st.code); process.exit(1) }
process.exit(failed ? 1 : 0)
