// Rate limits against the real binary: per-address HTTP buckets (429 with
// Retry-After, then recovery after the wait), per-connection WebSocket
// message buckets (close 4429, a new connection recovers), limits changed by
// SIGHUP. Per-user buckets and sign-in throttling need sessions: unit tests
// (server_versions_test) and tests/auth.
import { assert, removeDir, run, startServer, stopServer, sleep, tempDir, waitFor } from '../server/lib.mjs'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'

const dir = tempDir()
const conf = join(dir, 'corates.toml')
writeFileSync(conf, 'rate_ip_read = "2/s burst 4"\nrate_ws_messages = "4/s burst 6"\n')
const server = await startServer({ dataDir: join(dir, 'data'), extraArgs: ['--config', conf] })

const read = () => fetch(`${server.http}/api/docs`)

async function metric (name) {
  const text = await (await fetch(server.http + '/metrics')).text()
  const m = new RegExp('^' + name.replace(/[{}"]/g, c => '\\' + c) + ' (\\d+)$', 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

// Waits until the read bucket is full again (bounded).
async function drained () {
  await sleep(2500)
}

function open (room) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.ws}/${room}?clientVersion=1.0.0`)
    ws.binaryType = 'nodebuffer'
    const closed = new Promise(res => ws.on('close', (code) => res(code)))
    ws.on('open', () => resolve({ ws, closed }))
    ws.on('unexpected-response', (req, res) => { req.destroy(); reject(new Error('upgrade refused ' + res.statusCode)) })
    ws.on('error', reject)
  })
}

// y-protocols sync step 1 with an empty state vector: always valid.
const step1 = new Uint8Array([0, 0, 1, 0])

const failed = await run({
  async 'HTTP: over the per-address burst -> 429 RATE_LIMITED with Retry-After' () {
    const statuses = []
    let limited = null
    for (let i = 0; i < 8; i++) {
      const r = await read()
      statuses.push(r.status)
      if (r.status === 429 && !limited) limited = { headers: r.headers, body: await r.json() }
    }
    assert(statuses.slice(0, 4).every(s => s === 200), 'the burst passes: ' + statuses)
    assert(limited, 'then 429: ' + statuses)
    assert(limited.body.error.code === 'RATE_LIMITED', JSON.stringify(limited.body))
    const retry = Number(limited.headers.get('retry-after'))
    assert(retry >= 1 && retry <= 2, 'Retry-After ' + limited.headers.get('retry-after'))
    assert(limited.headers.get('x-api-version'), 'common headers on 429')
    assert((await metric('corates_rate_limited_total{class="read"}')) >= 1, 'counted in /metrics')
    // Public system routes are not limited.
    for (let i = 0; i < 10; i++) assert((await fetch(server.http + '/healthz')).status === 200, 'healthz')
    await sleep(retry * 1000 + 50)
    assert((await read()).status === 200, 'recovered after Retry-After')
  },

  async 'WebSocket: over the per-connection message burst -> close 4429' () {
    await drained()
    const c = await open('ws-rl')
    for (let i = 0; i < 30; i++) c.ws.send(step1)
    const code = await Promise.race([c.closed, sleep(5000).then(() => null)])
    assert(code === 4429, 'closed with 4429, got ' + code)
    assert((await metric('corates_ws_rate_limited_total')) >= 1, 'counted')
    // A new connection that stays under the rate keeps working.
    const d = await open('ws-rl')
    for (let i = 0; i < 6; i++) { d.ws.send(step1); await sleep(300) }
    await sleep(200)
    assert(d.ws.readyState === WebSocket.OPEN, 'a client within the rate stays open')
    d.ws.close()
    await d.closed
  },

  async 'SIGHUP changes the limits live' () {
    await drained()
    writeFileSync(conf, 'rate_ip_read = "off"\nrate_ws_messages = "off"\n')
    server.proc.kill('SIGHUP')
    await waitFor('the reload', async () => (await metric('corates_config_reloads_total')) >= 1, 5000)
    const statuses = []
    for (let i = 0; i < 20; i++) statuses.push((await read()).status)
    assert(statuses.every(s => s === 200), 'unlimited now: ' + statuses)
    const c = await open('ws-rl2')
    for (let i = 0; i < 40; i++) c.ws.send(step1)
    await sleep(500)
    assert(c.ws.readyState === WebSocket.OPEN, 'no 4429 when off')
    c.ws.close()
    await c.closed
  }
})

const res = await stopServer(server)
assert(res.code === 0, 'clean exit, got ' + JSON.stringify(res))
removeDir(dir)
process.exit(failed ? 1 : 0)
