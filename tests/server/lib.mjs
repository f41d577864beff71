// Helpers for the server integration tests: start/stop the real binary on a
// free loopback port with a temporary data directory, real Yjs clients, and
// bounded waits. Every wait has a deadline; nothing loops forever.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

export const BIN = process.env.CORATES_BIN
if (!BIN) throw new Error('CORATES_BIN not set (run through tests/server/run.sh)')

export function tempDir () {
  return mkdtempSync(join(tmpdir(), 'corates-server-test-'))
}

export function removeDir (dir) {
  rmSync(dir, { recursive: true, force: true })
}

// Starts `serve` and resolves once it printed its address.
export function startServer ({ dataDir, listen = '127.0.0.1:0', extraArgs = [], env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['serve', '--listen', listen, '--data', dataDir, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Protocol tests run the server open; tests/auth covers sessions and roles.
      env: { CORATES_LOG_LEVEL: 'warn', CORATES_AUTH_REQUIRED: 'false', ...process.env, ...env }
    })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error('server did not start within 10 s: ' + err))
    }, 10000)
    proc.stderr.on('data', d => { err += d; if (process.env.VERBOSE) process.stderr.write(d) })
    proc.stdout.on('data', d => {
      out += d
      const m = /listening on http:\/\/([^\s]+):(\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        const port = Number(m[2])
        resolve({
          proc,
          port,
          http: `http://127.0.0.1:${port}`,
          ws: `ws://127.0.0.1:${port}/ws`,
          stderr: () => err,
          exited: new Promise(res => proc.on('exit', (code, signal) => res({ code, signal })))
        })
      }
    })
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited early (${code}): ${err}`)) })
  })
}

// SIGTERM and wait (bounded); returns {code, signal, ms}.
export async function stopServer (server, signal = 'SIGTERM', timeoutMs = 15000) {
  const t0 = Date.now()
  server.proc.kill(signal)
  const res = await Promise.race([server.exited, sleep(timeoutMs).then(() => null)])
  if (res === null) {
    server.proc.kill('SIGKILL')
    throw new Error(`server did not exit within ${timeoutMs} ms after ${signal}`)
  }
  return { ...res, ms: Date.now() - t0 }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// A loopback port free right now: for a server that must come back on the
// same port after a restart.
export function freePort () {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

// Server environment with every rate limit off (for tests that push hard).
export const RATE_LIMITS_OFF = {
  CORATES_RATE_USER_OPS: 'off',
  CORATES_RATE_IP_OPS: 'off',
  CORATES_RATE_USER_READ: 'off',
  CORATES_RATE_IP_READ: 'off',
  CORATES_RATE_USER_WRITE: 'off',
  CORATES_RATE_IP_WRITE: 'off'
}

export async function waitFor (what, cond, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await cond()) return
    await sleep(20)
  }
  throw new Error('timed out waiting for ' + what)
}

export function connect (server, room, doc = new Y.Doc(), opts = {}) {
  const provider = new WebsocketProvider(server.ws, room, doc, {
    WebSocketPolyfill: WebSocket, disableBc: true, maxBackoffTime: 200, ...opts
  })
  return { doc, provider }
}

export async function synced (client, timeoutMs = 10000) {
  await waitFor('sync', () => client.provider.synced, timeoutMs)
}

// JSON with object keys sorted (Y.Map iteration order differs between replicas).
export function canonical (v) {
  if (Array.isArray(v)) return v.map(canonical)
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.keys(v).sort().map(k => [k, canonical(v[k])]))
  }
  return v
}

// Same state vector and the same content of the given roots ({name: 'text'|'map'|'array'}).
export function sameState (docs, roots = { text: 'text', map: 'map', array: 'array' }) {
  const content = d => JSON.stringify(canonical(Object.fromEntries(Object.entries(roots).map(([name, kind]) =>
    [name, kind === 'text' ? d.getText(name).toString() : kind === 'map' ? d.getMap(name).toJSON() : d.getArray(name).toJSON()]))))
  const sv = d => Buffer.from(Y.encodeStateVector(d)).toString('hex')
  return docs.every(d => sv(d) === sv(docs[0]) && content(d) === content(docs[0]))
}

// A raw y-protocols client over `ws`, for malformed frames and exact bytes.
export function rawClient (server, room) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.ws}/${room}`)
    ws.binaryType = 'nodebuffer'
    const messages = []
    let closed = null
    ws.on('message', m => messages.push(new Uint8Array(m)))
    const closedP = new Promise(res => ws.on('close', (code, reason) => { closed = { code, reason: reason.toString() }; res(closed) }))
    ws.on('open', () => resolve({ ws, messages, closed: () => closed, closedP }))
    ws.on('error', reject)
  })
}

// Runs named test functions; prints one line each; returns the failures.
export async function run (tests) {
  let failed = 0
  for (const [name, fn] of Object.entries(tests)) {
    const t0 = Date.now()
    try {
      await fn()
      console.log(`PASS ${name} (${Date.now() - t0} ms)`)
    } catch (e) {
      failed++
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`)
    }
  }
  return failed
}

export function assert (cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

export { Y }
