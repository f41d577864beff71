// The C++ SDK through `corates-sync client ...` (each call a new client
// process, so every step is also a client restart) against the real server
// with auth on: offline queue then replay exactly once, a rejected op that
// does not block the ops behind it, a too-old client paused with its queue
// intact then resumed by the background loop, cache cleared when
// cacheVersion changes, and two users kept apart.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { RATE_LIMITS_OFF, assert, freePort, removeDir, run, sleep, startServer, stopServer, tempDir, waitFor } from '../server/lib.mjs'

const BIN = process.env.CORATES_BIN
const dataDir = tempDir()
const stateDir = tempDir()
const configFile = join(dataDir, 'server.toml')
const ENV = {
  CORATES_AUTH_REQUIRED: 'true',
  ...RATE_LIMITS_OFF,
  CORATES_OPS_EVENTS_HOLD_MS: '1000'
}

const writeConfig = ({ min = '0.0.0', cache = '1' } = {}) =>
  writeFileSync(configFile, `min_supported_client = "${min}"\nrecommended_client = "${min}"\ncache_version = "${cache}"\n`)

function token (user) {
  const r = spawnSync(BIN, ['token', '--user', user, '--data', dataDir], { encoding: 'utf8', timeout: 20000 })
  if (r.status !== 0) throw new Error('token failed: ' + r.stderr)
  return r.stdout.trim()
}

// One client process; resolves {code, stdout, stderr}. `onLine` sees stdout lines as they come.
function cli (args, { timeoutMs = 60000, onLine } = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, ['client', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } })
    let stdout = ''
    let stderr = ''
    let pending = ''
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.stdout.on('data', d => {
      stdout += d
      pending += d
      let nl
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (onLine) onLine(line)
      }
    })
    p.stderr.on('data', d => { stderr += d })
    p.on('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

let url = ''
const as = (tok, user) => ['--server', url, '--token', tok, '--state', stateDir, '--user', user]
async function enqueue (tok, user, type, payload) {
  const r = await cli([...as(tok, user), 'enqueue', type, JSON.stringify(payload)])
  assert(r.code === 0, 'enqueue failed: ' + r.stderr)
  return r.stdout.trim()
}
async function status (tok, user, extra = []) {
  const r = await cli([...as(tok, user), 'status', '--json', ...extra])
  assert(r.code === 0, 'status failed: ' + r.stderr)
  return JSON.parse(r.stdout)
}
const sync = (tok, user) => cli([...as(tok, user), 'sync', '--json'])

async function api (path, tok) {
  const res = await fetch(url + path, { headers: { authorization: 'Bearer ' + tok } })
  return { status: res.status, body: await res.json() }
}
async function feed (tok) {
  const changes = []
  let cp = 0
  for (let i = 0; i < 1000; i++) {
    const r = await api(`/api/sync/ops?since=${cp}&limit=1000`, tok)
    assert(r.status === 200, 'pull ' + r.status)
    changes.push(...r.body.changes)
    cp = r.body.checkpoint
    if (!r.body.hasMore) return changes
  }
  throw new Error('feed did not end')
}
async function reload (server, what) {
  writeConfig(what)
  server.proc.kill('SIGHUP')
  await waitFor('config reload', async () => {
    const m = await (await fetch(url + '/api/metadata')).json()
    return m.minSupportedClient === (what.min ?? '0.0.0') && m.cacheVersion === (what.cache ?? '1')
  })
}

writeConfig()
const alice = token('alice')
const bob = token('bob')
const port = await freePort()
url = `http://127.0.0.1:${port}`
let server = null
let config = { min: '0.0.0', cache: '1' }

const failed = await run({
  async 'offline: ops queued with the server down arrive exactly once after restarts, all applied' () {
    const ids = []
    for (let i = 1; i <= 5; i++) ids.push(await enqueue(alice, 'alice', 'todo.add', { list: 'offline', text: 't' + i }))
    const down = await sync(alice, 'alice')
    assert(down.code === 1 && /unreachable/.test(down.stderr), 'sync with the server down: ' + down.code + ' ' + down.stderr)
    let st = await status(alice, 'alice')
    assert(st.counts.pending === 5 && st.user === 'alice', 'queued offline: ' + JSON.stringify(st.counts))
    assert(st.ops.map(o => o.seq).join() === '1,2,3,4,5', 'seqs ' + st.ops.map(o => o.seq))

    server = await startServer({ dataDir, listen: `127.0.0.1:${port}`, extraArgs: ['--config', configFile], env: ENV })
    const up = await sync(alice, 'alice')
    assert(up.code === 0, 'sync: ' + up.stderr)
    const rep = JSON.parse(up.stdout)
    assert(rep.sent === 5 && rep.applied === 5 && rep.waiting === 0, 'report ' + up.stdout)
    st = await status(alice, 'alice')
    assert(st.ops.every(o => o.status === 'applied'), 'statuses ' + JSON.stringify(st.ops.map(o => o.status)))
    assert(st.userId.startsWith('u_'), 'user learned from the server: ' + st.userId)

    const again = JSON.parse((await sync(alice, 'alice')).stdout)
    assert(again.sent === 0, 'nothing resent: ' + JSON.stringify(again))
    const mine = (await feed(alice)).filter(c => c.clientId === st.clientId)
    assert(mine.length === 5, 'exactly once in the feed: ' + mine.length)
    assert(mine.map(c => c.id).join() === ids.join(), 'in order, same ids')
    assert(mine.map(c => c.result.position).join() === '1,2,3,4,5', 'positions ' + mine.map(c => c.result.position))
    const rec = await api(`/api/sync/clients/${st.clientId}/ops?limit=100`, alice)
    assert(rec.body.lastSeq === 5 && rec.body.records.every(r => r.status === 'applied'), 'server records ' + JSON.stringify(rec.body))
  },

  async 'a rejected op is failed with its code and the ops behind it apply' () {
    const good1 = await enqueue(alice, 'alice', 'todo.add', { list: 'rej', text: 'a' })
    const bad = await enqueue(alice, 'alice', 'todo.add', { list: 'rej' })
    const good2 = await enqueue(alice, 'alice', 'todo.add', { list: 'rej', text: 'b' })
    const r = await sync(alice, 'alice')
    assert(r.code === 0, r.stderr)
    const st = await status(alice, 'alice')
    const by = Object.fromEntries(st.ops.map(o => [o.id, o]))
    assert(by[good1].status === 'applied' && by[good2].status === 'applied', 'good ops applied')
    assert(by[bad].status === 'failed' && by[bad].error.code === 'VALIDATION_FAILED', 'bad op: ' + JSON.stringify(by[bad]))
    const human = await cli([...as(alice, 'alice'), 'status'])
    assert(new RegExp(`failed: seq ${by[bad].seq} ${bad} todo.add: VALIDATION_FAILED`).test(human.stdout), human.stdout)
  },

  async 'too old: sync refuses with a clear line, the queue stays, the loop resumes when accepted again' () {
    config = { ...config, min: '9.0.0' }
    await reload(server, config)
    const ids = []
    for (let i = 0; i < 3; i++) ids.push(await enqueue(alice, 'alice', 'todo.add', { list: 'old', text: 'o' + i }))
    const r = await sync(alice, 'alice')
    assert(r.code === 1 && /upgrade required/.test(r.stderr) && /9\.0\.0/.test(r.stderr), 'sync: ' + r.code + ' ' + r.stderr)
    let st = await status(alice, 'alice')
    assert(ids.every(id => st.ops.find(o => o.id === id).status === 'pending'), 'kept pending')

    let paused = false
    const loop = cli([...as(alice, 'alice'), 'run', '--until-drained', '--max-seconds', '40', '--upgrade-poll-ms', '200',
      '--backoff-max-ms', '500'], { onLine: l => { if (/^state upgrade-required/.test(l)) paused = true } })
    await waitFor('loop paused', () => paused, 15000)
    await sleep(500)
    st = await status(alice, 'alice')
    assert(st.counts.pending === 3, 'still queued while paused: ' + JSON.stringify(st.counts))
    config = { ...config, min: '0.0.0' }
    await reload(server, config)
    const done = await loop
    assert(done.code === 0 && /drained/.test(done.stdout), 'loop: ' + done.code + ' ' + done.stdout + done.stderr)
    st = await status(alice, 'alice')
    assert(ids.every(id => st.ops.find(o => o.id === id).status === 'applied'), 'applied after resuming')
    const mine = (await feed(alice)).filter(c => ids.includes(c.id))
    assert(mine.length === 3, 'each once: ' + mine.length)
  },

  async 'cacheVersion change clears the pulled changes and pulls again from 0' () {
    const before = await status(alice, 'alice')
    assert(before.changes > 0, 'has cached changes')
    // An app cache entry only a cleared cache loses.
    assert((await cli([...as(alice, 'alice'), 'cache-put', 'marker', '{"v":1}'])).code === 0, 'cache-put')
    const same = JSON.parse((await sync(alice, 'alice')).stdout)
    assert(!same.cacheCleared, 'same version keeps the cache')
    const kept = await cli([...as(alice, 'alice'), 'cache-get', 'marker'])
    assert(kept.code === 0 && kept.stdout.trim() === '{"v":1}', 'cache entry kept: ' + kept.stdout + kept.stderr)
    config = { ...config, cache: '2' }
    await reload(server, config)
    const r = await sync(alice, 'alice')
    assert(r.code === 0, r.stderr)
    const rep = JSON.parse(r.stdout)
    assert(rep.cacheCleared === true && rep.pulled === before.changes, 'cleared and pulled again: ' + r.stdout)
    const after = await status(alice, 'alice')
    assert(after.changes === before.changes && after.checkpoint === before.checkpoint, 'same view again')
    assert(after.counts.applied === before.counts.applied, 'queued ops are not caches')
    const got = await cli([...as(alice, 'alice'), 'cache-get', 'marker'])
    assert(got.code === 1 && /no entry/.test(got.stderr), 'app cache cleared: ' + got.stdout + got.stderr)
  },

  async 'the background loop learns of another device\'s changes from /api/sync/events, not by polling' () {
    const state2 = tempDir()
    const dev2 = ['--server', url, '--token', alice, '--state', state2, '--user', 'alice']
    let cp = 0
    // idle_resync is 60 s: within this test only an event can trigger a pull.
    const loop = cli([...dev2, 'run', '--max-seconds', '6'], {
      onLine: l => { const m = /^changes \d+ checkpoint (\d+)/.exec(l); if (m) cp = Number(m[1]) }
    })
    await waitFor('pull on connect', () => cp > 0, 8000)
    const start = cp
    await sleep(300)
    await enqueue(alice, 'alice', 'todo.add', { list: 'events', text: 'e' })
    assert((await sync(alice, 'alice')).code === 0, 'device 1 sync')
    await waitFor('event-driven pull on device 2', () => cp > start, 5000)
    const done = await loop
    assert(done.code === 0, 'loop: ' + done.stderr)
    removeDir(state2)
  },

  async 'network loss: the loop backs off while the server is down and replays after it returns' () {
    await stopServer(server)
    server = null
    const ids = []
    for (let i = 0; i < 4; i++) ids.push(await enqueue(alice, 'alice', 'todo.add', { list: 'outage', text: 'x' + i }))
    let offline = 0
    const loop = cli([...as(alice, 'alice'), 'run', '--until-drained', '--max-seconds', '40', '--backoff-max-ms', '800'],
      { onLine: l => { if (/^state offline NETWORK/.test(l)) offline++ } })
    await waitFor('loop offline', () => offline > 0, 10000)
    await sleep(1500)
    let st = await status(alice, 'alice')
    assert(ids.every(id => st.ops.find(o => o.id === id).status === 'pending'), 'pending while down')
    server = await startServer({ dataDir, listen: `127.0.0.1:${port}`, extraArgs: ['--config', configFile], env: ENV })
    const done = await loop
    assert(done.code === 0 && /drained/.test(done.stdout), 'loop: ' + done.code + ' ' + done.stderr)
    st = await status(alice, 'alice')
    assert(ids.every(id => st.ops.find(o => o.id === id).status === 'applied'), 'applied after the outage')
    const mine = (await feed(alice)).filter(c => ids.includes(c.id))
    assert(mine.length === 4, 'each once: ' + mine.length)
  },

  async 'users are kept apart: own queue, clientId and cache; nothing of alice visible to bob' () {
    const secret = await enqueue(alice, 'alice', 'todo.add', { list: 'alice-secret-list', text: 's' })
    assert((await sync(alice, 'alice')).code === 0, 'alice sync')
    const a = await status(alice, 'alice', ['--changes'])
    assert(a.changeList.some(c => c.id === secret), 'alice sees her op')
    const b0 = await status(bob, 'bob', ['--changes'])
    assert(b0.user === 'bob' && b0.clientId !== a.clientId && b0.ops.length === 0, 'bob starts empty: ' + JSON.stringify(b0))
    await enqueue(bob, 'bob', 'todo.add', { list: 'bob-list', text: 'b' })
    assert((await sync(bob, 'bob')).code === 0, 'bob sync')
    const b = await status(bob, 'bob', ['--changes'])
    assert(b.counts.applied === 1 && b.ops.length === 1, 'bob has only his op')
    assert(!b.changeList.some(c => c.clientId === a.clientId), 'no alice change in bob\'s cache')
    assert(existsSync(join(stateDir, 'users', 'alice')) && existsSync(join(stateDir, 'users', 'bob')), 'per-user dirs')
    const bobFiles = ['queue.sqlite3', 'queue.sqlite3-wal'].map(f => join(stateDir, 'users', 'bob', f)).filter(existsSync)
    for (const f of bobFiles) {
      const bytes = readFileSync(f).toString('latin1')
      assert(!bytes.includes(secret) && !bytes.includes('alice-secret-list'), 'alice data in ' + f)
    }
    // Alice's queue still intact after bob used the same state dir.
    const a2 = await status(alice, 'alice')
    assert(a2.clientId === a.clientId && a2.ops.length === a.ops.length, 'alice unchanged')
    // A refused token is an error, not someone else's queue.
    const bad = await cli(['--server', url, '--token', 'not-a-token', '--state', stateDir, 'status'])
    assert(bad.code !== 0 && /refused the token/.test(bad.stderr), 'bad token: ' + bad.stderr)
  }
})

if (server) await stopServer(server)
removeDir(dataDir)
removeDir(stateDir)
process.exit(failed ? 1 : 0)
