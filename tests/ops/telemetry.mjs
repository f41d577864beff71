// Client telemetry end to end (docs/telemetry.md): reports posted to the real
// binary show up in /metrics (versions, queue depth distribution, backlog,
// failures by code, replay times); bad bodies are refused with their code and
// change no metric; clients expire after telemetry_client_ttl_ms; the route
// is rate limited (class write) and, with auth on, needs a session and keeps
// a client bound to its user.
import { readFileSync } from 'node:fs'
import Ajv2020 from 'ajv/dist/2020.js'
import { api, mintToken, startAuthServer } from '../auth/lib.mjs'
import { OPEN_ENV, assert, removeDir, request, run, sleep, startServer, stopServer, tempDir, uuid } from './lib.mjs'

// The answers checked against the contract with a 2020-12 validator.
const ajv = new Ajv2020({ strict: false })
const schema = name => JSON.parse(readFileSync(new URL(`../../contracts/schemas/${name}.json`, import.meta.url), 'utf8'))
const validReport = ajv.compile(schema('TelemetryReport'))
const validAccepted = ajv.compile(schema('TelemetryAccepted'))

const post = (server, body, opts = {}) => request(`${server.http}/api/telemetry`, { method: 'POST', body, ...opts })

// /metrics as {'name{labels}': number}, only the corates_telemetry_* samples.
async function telemetryMetrics (server) {
  const r = await request(`${server.http}/metrics`)
  assert(r.status === 200, 'metrics ' + r.status)
  const out = {}
  for (const line of r.text.split('\n')) {
    if (!line.startsWith('corates_telemetry_') && !line.startsWith('corates_rate_limited_total')) continue
    const space = line.lastIndexOf(' ')
    out[line.slice(0, space)] = Number(line.slice(space + 1))
  }
  return out
}

const report = (clientId, clientVersion, queueDepth, extra = {}) =>
  ({ clientId, clientVersion, platform: 'cpp-sdk', queueDepth, ...extra })

const dir = tempDir()
const server = await startServer({ dataDir: dir, env: OPEN_ENV })
const shortDir = tempDir()
const short = await startServer({
  dataDir: shortDir,
  env: { ...OPEN_ENV, CORATES_TELEMETRY_CLIENT_TTL_MS: '1500', CORATES_RATE_IP_WRITE: '1/min burst 4' }
})
const authDir = tempDir()
const authServer = await startAuthServer({ dataDir: authDir })

const a = uuid()
const b = uuid()
const c = uuid()

const failed = await run({
  async 'reports are accepted with 202 and aggregated in /metrics' () {
    const r1 = await post(server, report(a, '1.0.0', 3, {
      failedOps: 1,
      failures: [{ code: 'NETWORK', count: 2 }, { code: 'VALIDATION_FAILED', count: 1 }],
      replays: [{ durationMs: 40, ops: 3 }, { durationMs: 2000, ops: 10 }]
    }))
    assert(r1.status === 202, 'status ' + r1.status + ' ' + r1.text)
    assert(r1.body.accepted === true && r1.body.clientTtlMs === 600000, r1.text)
    assert(validAccepted(r1.body), 'TelemetryAccepted: ' + ajv.errorsText(validAccepted.errors))
    assert(validReport(report(c.toUpperCase(), '1.1.0', 120)), 'a report the server takes is valid to ajv too')
    assert(!validReport(report(a, 'v1', 1)), 'and one it refuses is not')
    assert((await post(server, report(b, '1.0.0', 0))).status === 202, 'b')
    assert((await post(server, report(c.toUpperCase(), '1.1.0', 120, { replays: [{ durationMs: 700000, ops: 500 }] }))).status === 202, 'c')

    const m = await telemetryMetrics(server)
    const want = {
      corates_telemetry_clients: 3,
      'corates_telemetry_client_versions{version="1.0.0"}': 2,
      'corates_telemetry_client_versions{version="1.1.0"}': 1,
      'corates_telemetry_client_queue_depth{le="0"}': 1,
      'corates_telemetry_client_queue_depth{le="2"}': 1,
      'corates_telemetry_client_queue_depth{le="5"}': 2,
      'corates_telemetry_client_queue_depth{le="100"}': 2,
      'corates_telemetry_client_queue_depth{le="200"}': 3,
      'corates_telemetry_client_queue_depth{le="+Inf"}': 3,
      corates_telemetry_backlog_ops: 123,
      corates_telemetry_failed_ops: 1,
      'corates_telemetry_sync_failures_total{code="NETWORK"}': 2,
      'corates_telemetry_sync_failures_total{code="VALIDATION_FAILED"}': 1,
      'corates_telemetry_replay_seconds_bucket{le="0.1"}': 1,
      'corates_telemetry_replay_seconds_bucket{le="2.5"}': 2,
      'corates_telemetry_replay_seconds_bucket{le="600"}': 2,
      'corates_telemetry_replay_seconds_bucket{le="1800"}': 3,
      'corates_telemetry_replay_seconds_bucket{le="+Inf"}': 3,
      corates_telemetry_replay_seconds_count: 3,
      corates_telemetry_replay_seconds_sum: 0.04 + 2 + 700,
      corates_telemetry_replayed_ops_total: 513,
      corates_telemetry_reports_total: 3
    }
    for (const [k, v] of Object.entries(want)) {
      assert(Math.abs(m[k] - v) < 1e-9, `${k} = ${m[k]}, want ${v}`)
    }
  },

  async 'a newer report replaces the gauges and adds its deltas to the counters' () {
    const r = await post(server, report(a, '1.1.0', 0, { failures: [{ code: 'NETWORK', count: 5 }, { code: 'SEQ_GAP', count: 1 }] }))
    assert(r.status === 202, r.text)
    const m = await telemetryMetrics(server)
    assert(m.corates_telemetry_clients === 3, 'clients ' + m.corates_telemetry_clients)
    assert(m['corates_telemetry_client_versions{version="1.0.0"}'] === 1, '1.0.0')
    assert(m['corates_telemetry_client_versions{version="1.1.0"}'] === 2, '1.1.0')
    assert(m.corates_telemetry_backlog_ops === 120, 'backlog ' + m.corates_telemetry_backlog_ops)
    assert(m.corates_telemetry_failed_ops === 0, 'failed ops')
    assert(m['corates_telemetry_client_queue_depth{le="0"}'] === 2, 'le 0')
    assert(m['corates_telemetry_sync_failures_total{code="NETWORK"}'] === 7, 'NETWORK')
    assert(m['corates_telemetry_sync_failures_total{code="SEQ_GAP"}'] === 1, 'SEQ_GAP')
    assert(m.corates_telemetry_replay_seconds_count === 3, 'no new replays')
  },

  async 'bad bodies get their code and change no metric' () {
    const before = await telemetryMetrics(server)
    const cases = [
      ['{"clientId":', 400, 'MALFORMED_JSON'],
      [{ clientId: a, clientVersion: '1.0.0' }, 400, 'VALIDATION_FAILED', '/queueDepth'],
      [{ ...report(a, '9.9.9', 1), extra: true }, 400, 'VALIDATION_FAILED', '/extra'],
      [report('not-a-uuid', '9.9.9', 1), 400, 'VALIDATION_FAILED', '/clientId'],
      [report(a, 'v1', 1), 400, 'VALIDATION_FAILED', '/clientVersion'],
      [report(a, '9.9.9', -1), 400, 'VALIDATION_FAILED', '/queueDepth'],
      [report(a, '9.9.9', 1.5), 400, 'VALIDATION_FAILED', '/queueDepth'],
      [report(a, '9.9.9', 1, { failures: [{ code: 'NETWORK', count: 0 }] }), 400, 'VALIDATION_FAILED', '/failures/0/count'],
      [report(a, '9.9.9', 1, { failures: [{ code: 'bad code', count: 1 }] }), 400, 'VALIDATION_FAILED', '/failures/0/code'],
      [report(a, '9.9.9', 1, { replays: [{ durationMs: 5, ops: 1, when: 0 }] }), 400, 'VALIDATION_FAILED', '/replays/0'],
      [report(a, '9.9.9', 1, { replays: Array.from({ length: 65 }, () => ({ durationMs: 1, ops: 1 })) }), 400, 'VALIDATION_FAILED', '/replays'],
      [report(a, '9.9.9', 1, { platform: 'x'.repeat(40000) }), 413, 'PAYLOAD_TOO_LARGE']
    ]
    for (const [body, status, code, pointer] of cases) {
      const r = await post(server, body)
      const label = JSON.stringify(body).slice(0, 80)
      assert(r.status === status && r.body?.error?.code === code, `${label}: ${r.status} ${r.text.slice(0, 300)}`)
      if (pointer) {
        assert(r.body.error.details.some(d => d.pointer.startsWith(pointer)), `${label}: details ${JSON.stringify(r.body.error.details)}`)
      }
    }
    const wrongType = await post(server, JSON.stringify(report(a, '9.9.9', 1)), { headers: { 'content-type': 'text/plain' } })
    assert(wrongType.status === 415 && wrongType.body.error.code === 'UNSUPPORTED_MEDIA_TYPE', 'text/plain: ' + wrongType.status)
    const after = await telemetryMetrics(server)
    assert(JSON.stringify(after) === JSON.stringify(before),
      'metrics changed:\n' + Object.keys(after).filter(k => after[k] !== before[k]).map(k => `${k}: ${before[k]} -> ${after[k]}`).join('\n'))
  },

  async 'a client silent longer than telemetry_client_ttl_ms leaves the gauges, its counts stay' () {
    const id = uuid()
    const r = await post(short, report(id, '2.0.0', 9, { failures: [{ code: 'NETWORK', count: 1 }] }))
    assert(r.status === 202 && r.body.clientTtlMs === 1500, r.text)
    let m = await telemetryMetrics(short)
    assert(m.corates_telemetry_clients === 1 && m.corates_telemetry_backlog_ops === 9, 'live: ' + JSON.stringify(m))
    await sleep(1700)
    m = await telemetryMetrics(short)
    assert(m.corates_telemetry_clients === 0, 'clients ' + m.corates_telemetry_clients)
    assert(m.corates_telemetry_backlog_ops === 0, 'backlog ' + m.corates_telemetry_backlog_ops)
    assert(m['corates_telemetry_client_versions{version="2.0.0"}'] === undefined, 'version label gone')
    assert(m.corates_telemetry_clients_expired_total === 1, 'expired ' + m.corates_telemetry_clients_expired_total)
    assert(m['corates_telemetry_sync_failures_total{code="NETWORK"}'] === 1, 'counter kept')
  },

  async 'the route is rate limited as class write' () {
    // One report above was the first token of four.
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await post(short, report(uuid(), '2.0.0', 0))).status)
    assert(statuses.join() === '202,202,202,429', 'statuses ' + statuses)
    const m = await telemetryMetrics(short)
    assert(m['corates_rate_limited_total{class="write"}'] === 1, 'rate limited write ' + m['corates_rate_limited_total{class="write"}'])
    assert(m.corates_telemetry_reports_total === 4, 'reports ' + m.corates_telemetry_reports_total)
  },

  async 'with auth on: 401 without a session; a live clientId stays with its user (409)' () {
    const alice = mintToken(authDir, 'alice')
    const bob = mintToken(authDir, 'bob')
    const id = uuid()
    const anon = await api(authServer, 'POST', '/api/telemetry', { json: report(id, '1.0.0', 1) })
    assert(anon.status === 401 && anon.json.error.code === 'UNAUTHENTICATED', 'anonymous: ' + anon.status)
    const ok = await api(authServer, 'POST', '/api/telemetry', { token: alice, json: report(id, '1.0.0', 4) })
    assert(ok.status === 202, 'alice: ' + ok.status + ' ' + ok.text)
    const other = await api(authServer, 'POST', '/api/telemetry', { token: bob, json: report(id, '6.6.6', 999) })
    assert(other.status === 409 && other.json.error.code === 'CLIENT_ID_IN_USE', 'bob: ' + other.status + ' ' + other.text)
    const m = await telemetryMetrics(authServer)
    assert(m.corates_telemetry_backlog_ops === 4 && m['corates_telemetry_client_versions{version="6.6.6"}'] === undefined,
      'bob changed nothing: ' + JSON.stringify(m))
  }
})

await Promise.all([stopServer(server), stopServer(short), stopServer(authServer)])
removeDir(dir)
removeDir(shortDir)
removeDir(authDir)
process.exit(failed ? 1 : 0)
