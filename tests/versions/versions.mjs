// The version matrix over HTTP and WebSocket, /api/metadata, and config
// reload on SIGHUP (docs/versioning.md). Open mode: auth is tests/auth's.
import { assert, removeDir, run, startServer, stopServer, sleep, tempDir, waitFor } from '../server/lib.mjs'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'

const dir = tempDir()
const conf = join(dir, 'corates.toml')
const baseConf = {
  api_version: '2.3.0',
  min_supported_client: '1.2.0',
  recommended_client: '1.5.0',
  cache_version: 'c7',
  features: 'beta-search',
  ws_extensions: 'ack,epoch'
}
function writeConf (overrides = {}) {
  const all = { ...baseConf, ...overrides }
  writeFileSync(conf, Object.entries(all).map(([k, v]) =>
    `${k} = ${typeof v === 'string' ? JSON.stringify(v) : v}`).join('\n') + '\n')
}
writeConf()
const server = await startServer({ dataDir: join(dir, 'data'), extraArgs: ['--config', conf] })

// A version-gated route (read class, no body).
async function get (version, path = '/api/docs') {
  const headers = version === undefined ? {} : { 'X-Client-Version': version }
  return fetch(server.http + path, { headers })
}

// Resolves {status, body} for a refused upgrade, {status: 101, ws, closed} otherwise.
function upgrade (query) {
  return new Promise(resolve => {
    const ws = new WebSocket(`${server.ws}/matrix${query}`)
    const closed = new Promise(res => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })))
    ws.on('open', () => resolve({ status: 101, ws, closed }))
    ws.on('unexpected-response', (req, res) => {
      let body = ''
      res.on('data', d => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(body) }); req.destroy() })
    })
    ws.on('error', () => resolve({ status: -1 }))
  })
}

async function metadata () {
  const r = await fetch(server.http + '/api/metadata', { headers: { 'X-Client-Version': '0.0.1' } })
  assert(r.status === 200, 'metadata answers even a too-old client, got ' + r.status)
  return { headers: r.headers, body: await r.json() }
}

async function metric (name) {
  const text = await (await fetch(server.http + '/metrics')).text()
  const m = new RegExp('^' + name.replace(/[{}"]/g, c => '\\' + c) + ' (\\d+)$', 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

async function hangup (check) {
  server.proc.kill('SIGHUP')
  await waitFor('the reload', check, 5000)
}

const failed = await run({
  async 'GET /api/metadata' () {
    const { headers, body } = await metadata()
    assert(body.apiVersion === '2.3.0' && body.minSupportedClient === '1.2.0' && body.recommendedClient === '1.5.0' &&
      body.cacheVersion === 'c7' && body.requireClientVersion === false, JSON.stringify(body))
    assert(body.features.flags.includes('beta-search') && body.features.flags.includes('client-version-check'),
      'flags ' + JSON.stringify(body.features))
    assert(JSON.stringify(body.features.wsExtensions) === '["ack","epoch"]', 'ws extensions')
    assert(headers.get('x-api-version') === '2.3.0' && headers.get('x-cache-version') === 'c7', 'live headers')
    assert(headers.get('deprecation') === null, 'metadata is never gated')
  },

  async 'HTTP: too old -> 426 CLIENT_UPGRADE_REQUIRED' () {
    for (const v of ['1.0.0', '1.1.99', '1.2.0-rc.1', '0.0.0']) {
      const r = await get(v)
      const body = await r.json()
      assert(r.status === 426, `${v}: status ${r.status}`)
      assert(body.error.code === 'CLIENT_UPGRADE_REQUIRED' && body.error.minSupportedClient === '1.2.0' &&
        body.error.requestId === r.headers.get('x-request-id'), JSON.stringify(body))
      assert(r.headers.get('x-api-version') === '2.3.0' && r.headers.get('x-cache-version') === 'c7', 'headers on 426')
    }
  },

  async 'HTTP: deprecated -> success + Deprecation naming the recommended version' () {
    for (const v of ['1.2.0', '1.4.9', '1.5.0-beta.2', '1.3.0+build.7']) {
      const r = await get(v)
      assert(r.status === 200, `${v}: status ${r.status}`)
      const dep = r.headers.get('deprecation')
      assert(dep && dep.includes('1.5.0'), `${v}: Deprecation ${dep}`)
      assert(r.headers.get('x-recommended-client') === '1.5.0', 'X-Recommended-Client')
    }
  },

  async 'HTTP: current and missing -> success, no Deprecation' () {
    for (const v of ['1.5.0', '2.0.0', '10.0.0-alpha', undefined]) {
      const r = await get(v)
      assert(r.status === 200, `${v}: status ${r.status}`)
      assert(r.headers.get('deprecation') === null, `${v}: no Deprecation`)
      assert(r.headers.get('x-api-version') === '2.3.0', 'X-API-Version')
    }
  },

  async 'HTTP: not SemVer -> 400 INVALID_CLIENT_VERSION' () {
    for (const v of ['1.2', 'v1.5.0', 'latest', '01.5.0', '1.5.0-', '1.5.0 beta']) {
      const r = await get(v)
      const body = await r.json()
      assert(r.status === 400 && body.error.code === 'INVALID_CLIENT_VERSION', `${v}: ${r.status} ${JSON.stringify(body)}`)
    }
    const h = await get('garbage', '/healthz')
    assert(h.status === 200, 'health is never gated')
  },

  async 'WebSocket: the same matrix with ?clientVersion=' () {
    const old = await upgrade('?clientVersion=1.1.0')
    assert(old.status === 426 && old.body.error.code === 'CLIENT_UPGRADE_REQUIRED' &&
      old.body.error.minSupportedClient === '1.2.0', 'too old: ' + JSON.stringify(old.body))
    const bad = await upgrade('?clientVersion=one')
    assert(bad.status === 400 && bad.body.error.code === 'INVALID_CLIENT_VERSION', 'invalid: ' + bad.status)
    for (const q of ['?clientVersion=1.3.0', '?clientVersion=2.0.0&ext=ack', '']) {
      const ok = await upgrade(q)
      assert(ok.status === 101, `${q}: ${ok.status} ${JSON.stringify(ok.body)}`)
      ok.ws.close()
      await ok.closed
    }
  },

  async 'SIGHUP: require_client_version refuses a missing version' () {
    writeConf({ require_client_version: true })
    await hangup(async () => (await metadata()).body.requireClientVersion === true)
    const r = await get(undefined)
    const body = await r.json()
    assert(r.status === 426 && body.error.code === 'CLIENT_UPGRADE_REQUIRED', 'missing: ' + r.status)
    const ws = await upgrade('')
    assert(ws.status === 426, 'WebSocket without clientVersion: ' + ws.status)
    assert((await get('1.5.0')).status === 200, 'a stated version still works')
    writeConf()
    await hangup(async () => (await metadata()).body.requireClientVersion === false)
    assert((await get(undefined)).status === 200, 'accepted again')
  },

  async 'SIGHUP: raising the minimum closes old live sockets with 4426' () {
    const old = await upgrade('?clientVersion=1.3.0')
    const fresh = await upgrade('?clientVersion=2.0.0')
    const none = await upgrade('')
    assert(old.status === 101 && fresh.status === 101 && none.status === 101, 'all three open')
    const before = await metric('corates_outdated_connections_closed_total')
    writeConf({ min_supported_client: '1.4.0', cache_version: 'c8' })
    server.proc.kill('SIGHUP')
    const closed = await Promise.race([old.closed, sleep(5000).then(() => null)])
    assert(closed && closed.code === 4426, 'old client closed with 4426, got ' + JSON.stringify(closed))
    const { headers, body } = await metadata()
    assert(body.minSupportedClient === '1.4.0' && body.cacheVersion === 'c8', JSON.stringify(body))
    assert(headers.get('x-cache-version') === 'c8', 'X-Cache-Version follows the reload')
    await sleep(300)
    assert(fresh.ws.readyState === WebSocket.OPEN && none.ws.readyState === WebSocket.OPEN,
      'current and unversioned clients stay connected')
    assert((await metric('corates_outdated_connections_closed_total')) === before + 1, 'counted')
    assert((await get('1.3.0')).status === 426, 'new requests from 1.3.0 refused too')
    fresh.ws.close(); none.ws.close()
    await Promise.all([fresh.closed, none.closed])
  },

  async 'SIGHUP: an invalid file is refused and the old settings kept' () {
    const failuresBefore = await metric('corates_config_reload_failures_total')
    writeFileSync(conf, 'min_supported_client = "not-a-version"\n')
    server.proc.kill('SIGHUP')
    await waitFor('the refusal', async () =>
      (await metric('corates_config_reload_failures_total')) === failuresBefore + 1, 5000)
    writeFileSync(conf, 'min_supported_client = "3.0.0"\nrecommended_client = "2.0.0"\n')  // recommended < min
    server.proc.kill('SIGHUP')
    await waitFor('the second refusal', async () =>
      (await metric('corates_config_reload_failures_total')) === failuresBefore + 2, 5000)
    writeFileSync(conf, 'this is = not toml [\n')
    server.proc.kill('SIGHUP')
    await waitFor('the third refusal', async () =>
      (await metric('corates_config_reload_failures_total')) === failuresBefore + 3, 5000)
    const { body } = await metadata()
    assert(body.minSupportedClient === '1.4.0' && body.cacheVersion === 'c8', 'kept: ' + JSON.stringify(body))
    assert(/config reload refused/.test(server.stderr()), 'logged')
    assert((await get('1.4.0')).status === 200, 'still serving')
  }
})

const res = await stopServer(server)
assert(res.code === 0, 'clean exit after reloads, got ' + JSON.stringify(res))
removeDir(dir)
process.exit(failed ? 1 : 0)
