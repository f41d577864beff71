// The C++ document provider (through `corates-sync client ... doc`) and a
// stock Yjs y-websocket client edit one document through the real binary and
// converge; an edit made while the server is unreachable is kept (exit 3)
// and arrives with the next sync.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { BIN, assert, connect, removeDir, run, startServer, stopServer, synced, tempDir, waitFor } from '../server/lib.mjs'

const dir = tempDir()
const server = await startServer({ dataDir: join(dir, 'server') })
const state = join(dir, 'sdk')

function cli (url, ...args) {
  const r = spawnSync(BIN, ['client', '--server', url, '--state', state, '--user', 'alice', 'doc', ...args],
    { encoding: 'utf8', timeout: 30000 })
  return { status: r.status, out: r.stdout, err: r.stderr }
}

const failed = await run({
  async 'CLI edits and a Yjs client converge; an offline CLI edit arrives later' () {
    const y = connect(server, 'shared')
    await synced(y)
    y.doc.getText('t').insert(0, 'from yjs')
    let r = cli(server.http, 'edit', 'shared', '--text', 't', '--insert', '0', '--string', 'from cli, ')
    assert(r.status === 0, `edit: ${r.status} ${r.err}`)
    await waitFor('yjs sees the CLI edit', () => y.doc.getText('t').toString().includes('from cli'))
    r = cli(server.http, 'get', 'shared')
    assert(r.status === 0, `get: ${r.status} ${r.err}`)
    assert(JSON.parse(r.out).t === y.doc.getText('t').toString(), `same text: ${r.out} vs ${y.doc.getText('t').toString()}`)

    // Unreachable server: the edit is kept locally (exit 3) and shown from the cache.
    r = cli('http://127.0.0.1:1', 'edit', 'shared', '--map', 'm', '--set', 'k', 'offline value')
    assert(r.status === 3, `offline edit exits 3: ${r.status} ${r.err}`)
    r = cli('http://127.0.0.1:1', 'get', 'shared')
    assert(r.status === 3 && JSON.parse(r.out).m.k === 'offline value', `cached copy: ${r.status} ${r.out}`)
    assert(y.doc.getMap('m').get('k') === undefined, 'not delivered yet')
    r = cli(server.http, 'get', 'shared')
    assert(r.status === 0, `sync: ${r.status} ${r.err}`)
    await waitFor('yjs sees the offline edit', () => y.doc.getMap('m').get('k') === 'offline value')
    y.provider.destroy()
  },
  async 'bad arguments are refused with exit 2 and change nothing' () {
    let r = cli(server.http, 'edit', 'shared', '--text', 't', '--insert', '100000', '--string', 'x')
    assert(r.status === 2 && /past the end/.test(r.err), `insert past the end: ${r.status} ${r.err}`)
    r = cli(server.http, 'edit', 'shared', '--text', 't')
    assert(r.status === 2, `no edit given: ${r.status} ${r.err}`)
    r = cli(server.http, 'get', 'shared')
    assert(r.status === 0 && !JSON.parse(r.out).t.includes('x'), `unchanged: ${r.out}`)
  }
})

const st = await stopServer(server)
removeDir(dir)
if (st.code !== 0) { console.log('FAIL server exit status ' + st.code); process.exit(1) }
process.exit(failed ? 1 : 0)
