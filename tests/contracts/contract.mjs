// Contract test (issue 4, "Contracts"): the routes the binary serves are the
// routes of contracts/openapi.json and the reverse; every documented operation
// answers on the live server (never "no route"); every answer captured from
// the live server - successes and errors, open and with auth on - has a
// documented status and content type and validates against its schema
// (contracts/schemas, JSON Schema 2020-12, checked with ajv's 2020 build);
// the pipeline's own errors (404, 405, 413, 415, 400 MALFORMED_JSON and
// VALIDATION_FAILED) come in the envelope with the version headers.
import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Ajv2020 from 'ajv/dist/2020.js'
import { assert, BIN, removeDir, run, startServer, stopServer, tempDir, Y } from '../server/lib.mjs'

const ROOT = new URL('../..', import.meta.url).pathname
const committed = JSON.parse(readFileSync(join(ROOT, 'contracts/openapi.json'), 'utf8'))
const RATES_OFF = Object.fromEntries(
  ['USER_READ', 'USER_WRITE', 'USER_AUTH', 'USER_OPS', 'IP_READ', 'IP_WRITE', 'IP_AUTH', 'IP_OPS', 'WS_MESSAGES']
    .map(k => [`CORATES_RATE_${k}`, 'off']))

// ---- schemas --------------------------------------------------------------------

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false })
const schemaDir = join(ROOT, 'contracts/schemas')
const byName = new Map()
function loadSchemas (dir, prefix) {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) { loadSchemas(p, prefix + f + '.'); continue }
    if (!f.endsWith('.json')) continue
    const s = JSON.parse(readFileSync(p, 'utf8'))
    ajv.addSchema(s)
    byName.set(prefix + f.slice(0, -5), s.$id)
  }
}
loadSchemas(schemaDir, '')
for (const [name, id] of byName) {
  // Compiling each once proves every $ref between files resolves.
  ajv.getSchema(id) || assert(false, 'schema ' + name + ' does not compile')
}

function check (schemaName, value, what) {
  const v = ajv.getSchema(byName.get(schemaName))
  assert(v, `${what}: no schema ${schemaName}`)
  if (!v(value)) {
    throw new Error(`${what}: does not match ${schemaName}: ${ajv.errorsText(v.errors)}\n  ${JSON.stringify(value).slice(0, 300)}`)
  }
}

// ---- the documented operations -------------------------------------------------

function operations (doc) {
  const ops = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) ops.push({ path, method: method.toUpperCase(), op })
  }
  return ops
}
const key = o => `${o.method} ${o.path}`
const documented = operations(committed)
const refName = ref => ref && ref.startsWith('#/components/schemas/') ? ref.slice('#/components/schemas/'.length) : null

// What the document says about `status` of `op`: {contentType, schema}.
function expected (op, status) {
  const r = op.responses[String(status)] || op.responses.default
  if (!r) return null
  const content = r.content || {}
  const [ct] = Object.keys(content)
  return { explicit: Boolean(op.responses[String(status)]), contentType: ct, schema: ct ? refName(content[ct].schema?.$ref) : null }
}

// Validates one live answer against the document; returns the parsed body.
async function conforms (o, res, what) {
  const text = Buffer.from(await res.arrayBuffer())
  const exp = expected(o.op, res.status)
  assert(exp, `${what}: status ${res.status} is not documented for ${key(o)}`)
  for (const h of ['x-api-version', 'x-cache-version', 'x-request-id']) assert(res.headers.get(h), `${what}: no ${h}`)
  const ct = (res.headers.get('content-type') || '').split(';')[0].trim()
  if (exp.contentType) assert(ct === exp.contentType, `${what}: content type ${ct}, documented ${exp.contentType}`)
  if (res.status >= 400) {
    assert(ct === 'application/json', `${what}: error ${res.status} is not JSON`)
    const body = JSON.parse(text.toString('utf8'))
    check('Error', body, what)
    assert(body.error.requestId === res.headers.get('x-request-id'), `${what}: requestId differs from X-Request-Id`)
    return body
  }
  if (ct === 'application/json') {
    const body = JSON.parse(text.toString('utf8'))
    if (exp.schema) check(exp.schema, body, what)
    return body
  }
  return text
}

const fill = (path, values = {}) => path.replace(/\{([^}]+)\}/g, (_, p) => encodeURIComponent(values[p] ?? `probe-${p}`))

function probeInit (o, token) {
  const headers = { 'x-client-version': '99.0.0' }
  if (token) headers.authorization = `Bearer ${token}`
  const init = { method: o.method, headers, signal: AbortSignal.timeout(10000) }
  const rb = o.op.requestBody
  if (rb) {
    const [ct] = Object.keys(rb.content)
    headers['content-type'] = ct
    init.body = ct === 'application/json' ? '{}' : new Uint8Array([0])
  }
  return init
}

function yjsUpdate (text) {
  const d = new Y.Doc()
  d.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(d)
}

// Every documented operation against the live server: never "no route" or
// 405, and every answer conforms. Returns the number of answers checked.
async function probeAll (server, token) {
  let n = 0
  for (const o of documented) {
    if (o.path === '/api/sync/events') continue // a stream; probed on its own below
    const url = server.http + fill(o.path)
    const res = await fetch(url, probeInit(o, token))
    const what = `${key(o)}${token ? ' (session)' : ''} -> ${res.status}`
    assert(res.status !== 405, what + ': the server does not serve this method')
    const body = await conforms(o, res, what)
    if (res.status === 404) assert(!String(body.error.message).startsWith('no route'), what + ': not routed')
    n++
  }
  return n
}

const find = (method, path) => documented.find(o => o.method === method && o.path === path)

// ---- the tests ------------------------------------------------------------------

const dir = tempDir()
const server = await startServer({ dataDir: join(dir, 'open'), env: { ...RATES_OFF, CORATES_AUTH_REQUIRED: 'false', CORATES_MAX_BODY_BYTES: '65536' } })
let authServer = null

const failed = await run({
  async 'the binary serves exactly the committed routes' () {
    const r = spawnSync(BIN, ['openapi'], { encoding: 'utf8', timeout: 20000 })
    assert(r.status === 0, 'corates-sync openapi exit ' + r.status + ': ' + r.stderr)
    const served = operations(JSON.parse(r.stdout)).map(key).sort()
    const doc = documented.map(key).sort()
    const missing = served.filter(k => !doc.includes(k))
    const stale = doc.filter(k => !served.includes(k))
    assert(!missing.length && !stale.length,
      `served but not in contracts/openapi.json: [${missing}]; documented but not served: [${stale}] (scripts/check-contracts.sh --write)`)
    assert(documented.length >= 10, 'a plausible number of routes: ' + documented.length)
  },

  async 'GET /openapi.json is the committed document' () {
    const o = find('GET', '/openapi.json')
    const res = await fetch(server.http + '/openapi.json')
    assert(res.status === 200, 'status ' + res.status)
    const body = await conforms(o, res, 'openapi.json')
    assert(JSON.stringify(body) === JSON.stringify(committed), 'live document differs from contracts/openapi.json')
  },

  async 'every documented operation is routed and its answers conform (open mode)' () {
    const n = await probeAll(server)
    assert(n === documented.length - (find('GET', '/api/sync/events') ? 1 : 0), 'probed ' + n)
  },

  async 'undocumented methods on documented paths are 405 with Allow' () {
    const paths = [...new Set(documented.map(o => o.path))]
    for (const p of paths) {
      const methods = documented.filter(o => o.path === p).map(o => o.method)
      const other = ['GET', 'PUT', 'PATCH', 'DELETE', 'POST'].find(m => !methods.includes(m) && !(m === 'HEAD'))
      if (!other) continue
      const res = await fetch(server.http + fill(p), { method: other })
      assert(res.status === 405, `${other} ${p} -> ${res.status}`)
      const allow = (res.headers.get('allow') || '').split(',').map(s => s.trim()).sort()
      assert(JSON.stringify(allow) === JSON.stringify([...methods].sort()), `${p}: Allow ${allow} vs ${methods}`)
      check('Error', await res.json(), `${other} ${p}`)
    }
  },

  async 'successful answers captured from the live server validate' () {
    const name = 'contract/doc one'
    const up = find('POST', '/api/docs/{id}/update')
    let res = await fetch(server.http + fill(up.path, { id: name }), {
      method: 'POST', body: yjsUpdate('hello'), headers: { 'content-type': 'application/octet-stream' }
    })
    assert(res.status === 200, 'post update ' + res.status)
    const posted = await conforms(up, res, 'POST update')
    assert(posted.changed === true && posted.seq > 0, 'stored: ' + JSON.stringify(posted))
    const samples = [
      ['GET', '/healthz', {}], ['GET', '/readyz', {}], ['GET', '/metrics', {}], ['GET', '/api/metadata', {}],
      ['GET', '/api/docs', {}], ['GET', '/api/docs/{id}', { id: name }], ['GET', '/api/docs/{id}/update', { id: name }],
      ['GET', '/api/docs/{id}/state-vector', { id: name }]
    ]
    for (const [m, p, values] of samples) {
      const o = find(m, p)
      if (!o) continue
      res = await fetch(server.http + fill(p, values), { method: m })
      assert(res.status === 200, `${m} ${p} -> ${res.status}`)
      const body = await conforms(o, res, `${m} ${p}`)
      if (p === '/api/docs/{id}') assert(body.text === 'hello', 'content ' + JSON.stringify(body))
      if (p === '/api/docs') assert(body.documents.some(d => d.name === name), 'listed')
    }
    const rec = find('POST', '/api/reconcile/doc/{id}')
    if (rec) {
      res = await fetch(server.http + fill(rec.path, { id: name }), { method: 'POST', body: yjsUpdate('x'), headers: { 'content-type': 'application/octet-stream' } })
      assert(res.status === 200, 'reconcile ' + res.status)
      await conforms(rec, res, 'reconcile')
    }
    const del = find('DELETE', '/api/docs/{id}')
    if (del) {
      res = await fetch(server.http + fill(del.path, { id: name }), { method: 'DELETE' })
      assert(res.status === 200, 'delete ' + res.status)
      await conforms(del, res, 'delete')
    }
  },

  async 'pipeline errors: 404, 405, 413, 415, MALFORMED_JSON, VALIDATION_FAILED' () {
    let res = await fetch(server.http + '/no/such/route', { headers: { 'x-request-id': 'contract-1' } })
    assert(res.status === 404, '404: ' + res.status)
    let body = await res.json()
    check('Error', body, '404')
    assert(body.error.code === 'NOT_FOUND' && body.error.requestId === 'contract-1', '404 envelope ' + JSON.stringify(body))

    res = await fetch(server.http + '/healthz', { method: 'DELETE' })
    body = await res.json()
    assert(res.status === 405 && body.error.code === 'METHOD_NOT_ALLOWED' && res.headers.get('allow') === 'GET', '405')

    const up = find('POST', '/api/docs/{id}/update')
    res = await fetch(server.http + fill(up.path), { method: 'POST', body: new Uint8Array(70000), headers: { 'content-type': 'application/octet-stream' } })
    body = await res.json()
    assert(res.status === 413 && body.error.code === 'PAYLOAD_TOO_LARGE', '413: ' + res.status + ' ' + JSON.stringify(body))
    check('Error', body, '413')

    res = await fetch(server.http + fill(up.path), { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })
    body = await conforms(up, res, '415')
    assert(res.status === 415 && body.error.code === 'UNSUPPORTED_MEDIA_TYPE', '415: ' + res.status)

    // A JSON route: its schema validation runs before any handler.
    const jsonOp = documented.find(o => o.op.requestBody?.content['application/json'] && o.op.security?.length === 0) ||
      documented.find(o => o.op.requestBody?.content['application/json'])
    assert(jsonOp, 'a documented JSON request body')
    const url = server.http + fill(jsonOp.path)
    res = await fetch(url, { method: jsonOp.method, body: '{"a":', headers: { 'content-type': 'application/json' } })
    body = await conforms(jsonOp, res, 'malformed')
    assert(res.status === 400 && body.error.code === 'MALFORMED_JSON', 'MALFORMED_JSON: ' + res.status + ' ' + JSON.stringify(body))
    res = await fetch(url, { method: jsonOp.method, body: '{"a":1}', headers: { 'content-type': 'text/plain' } })
    assert(res.status === 415, 'JSON route 415: ' + res.status)
    res = await fetch(url, { method: jsonOp.method, body: '{"surely_not_a_field":[1,2]}', headers: { 'content-type': 'application/json' } })
    body = await conforms(jsonOp, res, 'invalid')
    assert(res.status === 400 && body.error.code === 'VALIDATION_FAILED', 'VALIDATION_FAILED: ' + res.status + ' ' + JSON.stringify(body))
    assert(body.error.details.length > 0 && body.error.details.every(d => typeof d.pointer === 'string' && d.rule && d.message),
      'details name pointer and rule: ' + JSON.stringify(body.error.details))
    assert(!/valijson|exception|\.cpp|std::/i.test(JSON.stringify(body)), 'no internals in the error')

    // The ops push schema: a wrong-typed field deep inside is named by its pointer.
    const push = find('POST', '/api/sync/ops')
    if (push) {
      res = await fetch(server.http + '/api/sync/ops', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: '00000000-0000-4000-8000-000000000001', ops: [{ id: '00000000-0000-4000-8000-000000000002', seq: 0, type: 'doc.create', payloadVersion: 1, payload: {}, hlc: 'x' }] })
      })
      body = await conforms(push, res, 'ops push')
      const pointers = body.error.details.map(d => `${d.pointer} ${d.rule}`)
      assert(res.status === 400 && pointers.includes('/ops/0/seq minimum') && pointers.includes('/ops/0/hlc pattern'),
        'ops details ' + JSON.stringify(body.error.details))
    }
  },

  async 'with auth on: every operation answers as documented, anonymous and with a session' () {
    authServer = await startServer({ dataDir: join(dir, 'auth'), env: { ...RATES_OFF, CORATES_AUTH_REQUIRED: 'true' } })
    const anonymous = await probeAll(authServer)
    assert(anonymous > 0, 'probed anonymously')
    for (const o of documented.filter(o => o.op.security === undefined)) {
      // Routes that need a session refuse an anonymous caller with 401.
      const res = await fetch(authServer.http + fill(o.path), probeInit(o))
      assert(res.status === 401 || (res.status === 400 && o.op.requestBody), `${key(o)} anonymous -> ${res.status}`)
      await conforms(o, res, key(o) + ' anonymous')
    }
    const r = spawnSync(BIN, ['token', '--user', 'contract-user', '--data', join(dir, 'auth')], { encoding: 'utf8', timeout: 20000 })
    if (r.status !== 0) throw new Error('corates-sync token: ' + r.stderr)
    const token = r.stdout.trim().split('\n').pop().trim()
    await probeAll(authServer, token)
    // The probes above may have ended that session (DELETE /api/session): a fresh one.
    const again = spawnSync(BIN, ['token', '--user', 'contract-user', '--data', join(dir, 'auth')], { encoding: 'utf8', timeout: 20000 })
    const fresh = again.stdout.trim().split('\n').pop().trim()
    const s = find('GET', '/api/session')
    if (s) {
      const res = await fetch(authServer.http + '/api/session', { headers: { authorization: `Bearer ${fresh}` } })
      assert(res.status === 200, 'GET /api/session with a token: ' + res.status)
      await conforms(s, res, 'GET /api/session')
    }
  }
})

const st = await stopServer(server)
if (authServer) await stopServer(authServer)
removeDir(dir)
if (st.code !== 0) { console.log('FAIL server exit status ' + st.code); process.exit(1) }
process.exit(failed ? 1 : 0)
