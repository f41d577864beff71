// The authorization matrix: every route the server serves (from its own
// /openapi.json) and the WebSocket endpoint, against six callers. Routes in
// TABLE have an exact expected status per caller; a route missing from it
// still gets the generic check (a non-public route refuses the three callers
// without a valid session with 401), and is listed so the table can grow.
import {
  startAuthServer, stopServer, removeDir, mintToken, api, wsOpen, textUpdate, sleep, run, assert
} from './lib.mjs'

const CALLERS = ['anonymous', 'expired', 'revoked', 'viewer', 'editor', 'owner']
const DOC = 'matrix-doc'
const D = `/api/docs/${DOC}`
const NO_SESSION = { anonymous: 'UNAUTHENTICATED', expired: 'SESSION_EXPIRED', revoked: 'SESSION_REVOKED' }

// status per caller, in CALLERS order
const all = s => CALLERS.map(() => s)
const session = ok => [401, 401, 401, ok, ok, ok]
const editorUp = ok => [401, 401, 401, 403, ok, ok]
const ownerOnly = ok => [401, 401, 401, 403, 403, ok]

// [method, path template, expected statuses, request options, fresh session per call]
const TABLE = [
  ['GET', '/healthz', all(200)],
  ['GET', '/readyz', all(200)],
  ['GET', '/metrics', all(200)],
  ['GET', '/openapi.json', all(200)],
  ['GET', '/api/metadata', all(200)],
  ['POST', '/api/auth/session', all(400), { json: {} }],
  ['GET', '/api/session', session(200)],
  ['GET', '/api/sessions', session(200)],
  ['POST', '/api/session/refresh', session(200), {}, true],
  ['DELETE', '/api/sessions/{id}', session(404), { id: 's_00000000000000000000000000000000' }],
  ['DELETE', '/api/session', session(200), {}, true],
  ['GET', '/api/docs', session(200)],
  ['GET', '/api/docs/{id}', session(200)],
  ['GET', '/api/docs/{id}/update', session(200)],
  ['GET', '/api/docs/{id}/state-vector', session(200)],
  ['POST', '/api/docs/{id}/update', editorUp(200), { body: () => textUpdate('x') }],
  ['POST', '/api/reconcile/doc/{id}', editorUp(200), { body: () => textUpdate('y') }],
  ['GET', '/api/docs/{id}/roles', session(200)],
  ['PUT', '/api/docs/{id}/roles/{user}', ownerOnly(200), { json: { role: 'viewer' } }],
  ['DELETE', '/api/docs/{id}/roles/{user}', ownerOnly(200)],
  // Last: it removes the document.
  ['DELETE', '/api/docs/{id}', ownerOnly(200)]
]

const server = await startAuthServer({ env: { CORATES_SESSION_TTL_MS: '1500' } })
const dir = server.dataDir
const tokens = {}
const failures = []

function fill (template, opts = {}) {
  return template.replace('{id}', encodeURIComponent(opts.id || DOC)).replace('{user}', 'bystander').replace(/\{[^}]+\}/g, 'x')
}

function tokenFor (caller, fresh) {
  if (fresh && ['viewer', 'editor', 'owner'].includes(caller)) return mintToken(dir, caller)
  return tokens[caller]
}

async function check (method, template, expected, opts = {}, fresh = false) {
  for (let i = 0; i < CALLERS.length; i++) {
    const caller = CALLERS[i]
    const req = { token: tokenFor(caller, fresh) }
    if (opts.json) req.json = opts.json
    if (opts.body) req.body = opts.body()
    const res = await api(server, method, fill(template, opts), req)
    let ok = res.status === expected[i]
    if (ok && res.status === 401 && NO_SESSION[caller]) ok = res.json?.error?.code === NO_SESSION[caller]
    const line = `${method} ${template} as ${caller}: ${res.status}${res.json?.error ? ' ' + res.json.error.code : ''}`
    if (!ok) failures.push(`${line}, expected ${expected[i]}${res.status === 401 ? ' ' + NO_SESSION[caller] : ''}`)
  }
}

const failed = await run({
  async setup () {
    tokens.owner = mintToken(dir, 'owner')
    tokens.editor = mintToken(dir, 'editor')
    tokens.viewer = mintToken(dir, 'viewer')
    mintToken(dir, 'bystander')
    // The first authenticated writer of an unclaimed document owns it.
    const created = await api(server, 'POST', `${D}/update`, { token: tokens.owner, body: textUpdate('hello') })
    assert(created.status === 200, `owner creates the doc: ${created.status} ${created.text}`)
    for (const [user, role] of [['editor', 'editor'], ['viewer', 'viewer']]) {
      const r = await api(server, 'PUT', `${D}/roles/${user}`, { token: tokens.owner, json: { role } })
      assert(r.status === 200 && r.json.role === role, `grant ${role}: ${r.status} ${r.text}`)
    }
    const roles = await api(server, 'GET', `${D}/roles`, { token: tokens.viewer })
    assert(roles.json.yourRole === 'viewer' && roles.json.roles.length === 3, 'role list: ' + roles.text)
    tokens.revoked = mintToken(dir, 'revoked-user')
    const ended = await api(server, 'DELETE', '/api/session', { token: tokens.revoked })
    assert(ended.status === 200, 'sign out: ' + ended.text)
    mintToken(dir, 'expired-user', { password: 'expired-password-1' })
    const signin = await api(server, 'POST', '/api/auth/session', { json: { user: 'expired-user', password: 'expired-password-1' } })
    assert(signin.status === 201, 'password sign-in: ' + signin.text)
    tokens.expired = signin.json.token
    await sleep(1700) // session_ttl_ms is 1500
  },

  async 'every route x every caller' () {
    const spec = (await api(server, 'GET', '/openapi.json')).json
    assert(spec && spec.paths, 'openapi.json is served')
    const served = []
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [m, op] of Object.entries(item)) {
        if (['get', 'put', 'post', 'delete', 'patch'].includes(m)) served.push({ method: m.toUpperCase(), path, op })
      }
    }
    const key = (m, p) => `${m} ${p}`
    const inTable = new Set(TABLE.map(([m, p]) => key(m, p)))
    for (const [m, p] of TABLE) {
      if (!served.some(s => key(s.method, s.path) === key(m, p))) failures.push(`${m} ${p} is in the table but not served`)
    }
    // Rows that end the document go last; the WebSocket row runs before them.
    for (const row of TABLE.slice(0, -1)) await check(...row)
    const ws = []
    for (const caller of CALLERS) {
      const r = await wsOpen(server, DOC, tokens[caller])
      const want = NO_SESSION[caller] ? 401 : 101
      if (r.status !== want) failures.push(`WS /ws/${DOC} as ${caller}: ${r.status}, expected ${want}`)
      if (r.status === 401 && r.body?.error?.code !== NO_SESSION[caller]) failures.push(`WS as ${caller}: code ${r.body?.error?.code}`)
      if (r.ws) ws.push(r.ws)
    }
    ws.forEach(w => w.close())
    const other = await wsOpen(server, DOC, mintToken(dir, 'stranger'))
    if (other.status !== 403) failures.push(`WS as a stranger without a role: ${other.status}, expected 403`)
    await check(...TABLE[TABLE.length - 1])

    const untabled = served.filter(s => !inTable.has(key(s.method, s.path)))
    for (const s of untabled) {
      const isPublic = Array.isArray(s.op.security) && s.op.security.length === 0
      console.log(`     not in the table (generic check only): ${s.method} ${s.path}${isPublic ? ' (public)' : ''}`)
      if (isPublic) continue
      for (const caller of ['anonymous', 'expired', 'revoked']) {
        const res = await api(server, s.method, fill(s.path), { token: tokens[caller], json: s.method === 'GET' ? undefined : {} })
        if (res.status !== 401) failures.push(`${s.method} ${s.path} as ${caller}: ${res.status}, expected 401`)
      }
    }
    assert(failures.length === 0, `\n  ${failures.join('\n  ')}`)
  }
})

await stopServer(server)
if (!failed) removeDir(dir)
process.exit(failed ? 1 : 0)
