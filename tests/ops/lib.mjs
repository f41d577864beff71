// Helpers of the op queue tests: the server helpers of tests/server, a seeded
// PRNG, UUIDs and small HTTP wrappers with deadlines.
import { randomUUID } from 'node:crypto'
export {
  assert, removeDir, run, sleep, startServer, stopServer, tempDir, waitFor
} from '../server/lib.mjs'

// Open mode, and no rate limits: these tests send many small requests.
export const OPEN_ENV = {
  CORATES_AUTH_REQUIRED: 'false',
  CORATES_RATE_USER_OPS: 'off',
  CORATES_RATE_IP_OPS: 'off',
  CORATES_RATE_USER_READ: 'off',
  CORATES_RATE_IP_READ: 'off'
}

export const uuid = () => randomUUID()

// mulberry32: small, seedable, good enough for test schedules.
export function prng (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: n => Math.floor(next() * n), chance: p => next() < p }
}

let hlcCounter = 0
export function hlc () {
  hlcCounter = (hlcCounter + 1) & 0xffff
  return new Date().toISOString() + '-' + hlcCounter.toString(16).padStart(4, '0')
}

export function op (seq, type, payload, extra = {}) {
  return { id: uuid(), seq, type, payloadVersion: 1, payload, hlc: hlc(), ...extra }
}

// fetch with a deadline; resolves {status, body, headers} or throws.
export async function request (url, { method = 'GET', body, timeoutMs = 10000, signal, headers = {} } = {}) {
  const ctl = new AbortController()
  const timer = setTimeout(() => ctl.abort(), timeoutMs)
  if (signal) signal.addEventListener('abort', () => ctl.abort())
  try {
    const res = await fetch(url, {
      method,
      headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
      signal: ctl.signal
    })
    const text = await res.text()
    let json = null
    try { json = JSON.parse(text) } catch { }
    return { status: res.status, body: json, text, headers: res.headers }
  } finally {
    clearTimeout(timer)
  }
}

export const push = (server, clientId, ops, opts = {}) =>
  request(`${server.http}/api/sync/ops`, { method: 'POST', body: { clientId, ops }, ...opts })

export const pull = (server, since, limit = 1000) =>
  request(`${server.http}/api/sync/ops?since=${since}&limit=${limit}`)

// Every change after `since` (pages until hasMore is false).
export async function pullAll (server, since = 0) {
  const changes = []
  let cp = since
  for (let i = 0; i < 10000; i++) {
    const r = await pull(server, cp)
    if (r.status !== 200) throw new Error('pull failed: ' + r.status + ' ' + r.text)
    if (r.body.checkpoint < cp) throw new Error(`checkpoint went backwards: ${r.body.checkpoint} < ${cp}`)
    changes.push(...r.body.changes)
    cp = r.body.checkpoint
    if (!r.body.hasMore) return { changes, checkpoint: cp }
  }
  throw new Error('pullAll did not finish')
}

export async function records (server, clientId) {
  const r = await request(`${server.http}/api/sync/clients/${clientId}/ops?limit=10000`)
  if (r.status !== 200) throw new Error('records failed: ' + r.status + ' ' + r.text)
  return r.body
}
