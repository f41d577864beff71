// Helpers of the auth suite, over tests/server/lib.mjs: a server with auth on
// (rate limits off, so the matrix measures authorization only), tokens from
// `corates-sync token`, HTTP with a bearer token, raw WebSocket upgrades.
import { spawnSync } from 'node:child_process'
import WebSocket from 'ws'
import { BIN, startServer, tempDir, waitFor, sleep, assert, Y } from '../server/lib.mjs'

export * from '../server/lib.mjs'

const RATES_OFF = Object.fromEntries(
  ['USER_READ', 'USER_WRITE', 'USER_AUTH', 'USER_OPS', 'IP_READ', 'IP_WRITE', 'IP_AUTH', 'IP_OPS', 'WS_MESSAGES']
    .map(k => [`CORATES_RATE_${k}`, 'off']))

export async function startAuthServer ({ dataDir = tempDir(), env = {} } = {}) {
  const server = await startServer({ dataDir, env: { ...RATES_OFF, CORATES_AUTH_REQUIRED: 'true', ...env } })
  server.dataDir = dataDir
  return server
}

// `corates-sync token ...`; returns the token (stdout) or throws with stderr.
export function mintToken (dataDir, user, { role, doc, password, ttlHours } = {}) {
  const args = ['token', '--user', user, '--data', dataDir]
  if (role) args.push('--role', role, '--doc', doc)
  if (password !== undefined) args.push('--password-stdin')
  if (ttlHours) args.push('--ttl-hours', String(ttlHours))
  const r = spawnSync(BIN, args, { input: password !== undefined ? password + '\n' : '', encoding: 'utf8', timeout: 20000 })
  if (r.status !== 0) throw new Error(`token ${args.join(' ')} -> ${r.status}: ${r.stderr}`)
  return r.stdout.trim()
}

// fetch with an optional bearer token; resolves {status, headers, json, text}.
export async function api (server, method, path, { token, json, body, contentType } = {}) {
  const headers = {}
  if (token) headers.authorization = `Bearer ${token}`
  let payload = body
  if (json !== undefined) { payload = JSON.stringify(json); headers['content-type'] = 'application/json' }
  if (body !== undefined) headers['content-type'] = contentType || 'application/octet-stream'
  const res = await fetch(server.http + path, { method, headers, body: payload, signal: AbortSignal.timeout(10000) })
  const buf = Buffer.from(await res.arrayBuffer())
  let parsed = null
  try { parsed = JSON.parse(buf.toString('utf8')) } catch {}
  return { status: res.status, headers: res.headers, json: parsed, text: buf.toString('utf8') }
}

// A WebSocket upgrade: resolves {status: 101, ws, closed} or {status, body}.
export function wsOpen (server, doc, token) {
  return new Promise((resolve, reject) => {
    const q = token ? `?token=${encodeURIComponent(token)}` : ''
    const ws = new WebSocket(`${server.ws}/${encodeURIComponent(doc)}${q}`)
    ws.binaryType = 'nodebuffer'
    let closed = null
    const closedP = new Promise(res => ws.on('close', (code, reason) => { closed = { code, reason: reason.toString() }; res(closed) }))
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('upgrade timed out')) }, 10000)
    ws.on('unexpected-response', (req, res) => {
      let text = ''
      res.on('data', d => { text += d })
      res.on('end', () => {
        clearTimeout(timer)
        let body = null
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode, body })
        ws.terminate()
      })
    })
    ws.on('open', () => { clearTimeout(timer); resolve({ status: 101, ws, closed: () => closed, closedP }) })
    ws.on('error', e => { if (!/Unexpected server response/.test(String(e))) { clearTimeout(timer); reject(e) } })
  })
}

// A Yjs update inserting `text` into root text 't'.
export function textUpdate (text) {
  const d = new Y.Doc()
  d.getText('t').insert(0, text)
  return Buffer.from(Y.encodeStateAsUpdate(d))
}

// Resolves with the close event, or null after `ms`.
export async function closedWithin (conn, ms) {
  return Promise.race([conn.closedP, sleep(ms).then(() => null)])
}

// HS256 / EdDSA / RS256 JWTs signed with node:crypto.
export function b64url (buf) {
  return Buffer.from(buf).toString('base64url')
}

export { waitFor, sleep, assert, Y }
