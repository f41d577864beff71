// `corates-sync client ... doc watch` (the C++ provider in live mode) and a
// stock Yjs y-websocket client, through the real binary: edits cross both
// ways without any sync command, awareness crosses both ways (and is removed
// when cleared), SIGTERM ends the watch with status 0, and an edit made with
// `doc edit` while no watch runs (server unreachable) goes out when a watch
// starts.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { BIN, assert, connect, removeDir, run, startServer, stopServer, synced, tempDir, waitFor } from '../server/lib.mjs'

const dir = tempDir()
const server = await startServer({ dataDir: join(dir, 'server') })
const state = join(dir, 'sdk')
const common = ['client', '--server', server.http, '--state', state, '--user', 'alice', 'doc']

function cli (url, ...args) {
  const r = spawnSync(BIN, ['client', '--server', url, '--state', state, '--user', 'alice', 'doc', ...args],
    { encoding: 'utf8', timeout: 30000 })
  return { status: r.status, out: r.stdout, err: r.stderr }
}

// Starts `doc watch NAME ...`; collects its stdout lines as parsed JSON.
function watch (name, ...args) {
  const proc = spawn(BIN, [...common, 'watch', name, '--for', '60', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const w = { proc, lines: [], err: '', exited: new Promise(resolve => proc.on('exit', (code, signal) => resolve({ code, signal }))) }
  let buf = ''
  proc.stdout.on('data', d => {
    buf += d
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      try { w.lines.push(JSON.parse(line)) } catch { w.lines.push({ unparsable: line }) }
    }
  })
  proc.stderr.on('data', d => { w.err += d; if (process.env.VERBOSE) process.stderr.write(d) })
  w.send = obj => proc.stdin.write(JSON.stringify(obj) + '\n')
  w.lastDoc = () => { for (let i = w.lines.length - 1; i >= 0; i--) if (w.lines[i].doc) return w.lines[i].doc; return null }
  w.lastAwareness = () => { for (let i = w.lines.length - 1; i >= 0; i--) if (w.lines[i].awareness) return w.lines[i].awareness; return null }
  w.stop = async () => {
    proc.kill('SIGTERM')
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000)
    const st = await w.exited
    clearTimeout(t)
    return st
  }
  return w
}

const failed = await run({
  async 'a Yjs client and doc watch converge both ways live' () {
    const y = connect(server, 'live')
    await synced(y)
    y.doc.getText('t').insert(0, 'from yjs')
    const w = watch('live', '--stdin')
    try {
      await waitFor('watch prints the Yjs text', () => w.lastDoc()?.t === 'from yjs', 15000)
      w.send({ text: 't', insert: 0, string: 'cli says hi, ' })
      await waitFor('yjs sees the watch edit', () => y.doc.getText('t').toString() === 'cli says hi, from yjs', 15000)
      y.doc.getMap('m').set('k', 'v from yjs')
      await waitFor('watch prints the map', () => w.lastDoc()?.m?.k === 'v from yjs', 15000)
      y.doc.getText('t').delete(0, 4)
      await waitFor('watch prints the deletion', () => w.lastDoc()?.t === 'says hi, from yjs', 15000)
      w.send({ map: 'm', set: ['k2', 'from watch'] })
      await waitFor('yjs sees the map edit', () => y.doc.getMap('m').get('k2') === 'from watch', 15000)
    } finally {
      const st = await w.stop()
      assert(st.code === 0, `watch exits 0 on SIGTERM: ${JSON.stringify(st)} ${w.err}`)
      y.provider.destroy()
    }
    // The watch's cache holds what it saw: `doc get` offline shows it.
    const r = cli('http://127.0.0.1:1', 'get', 'live')
    assert(r.status === 3 && JSON.parse(r.out).m.k2 === 'from watch' && JSON.parse(r.out).t === 'says hi, from yjs',
      `cached copy: ${r.status} ${r.out}`)
  },

  async 'awareness crosses both ways and is removed when cleared' () {
    const y = connect(server, 'aware')
    await synced(y)
    y.provider.awareness.setLocalState({ user: 'yjs' })
    const w = watch('aware', '--stdin', '--awareness', '{"user":"cli"}')
    try {
      const yid = String(y.doc.clientID)
      await waitFor('watch prints the Yjs awareness', () => w.lastAwareness()?.[yid]?.user === 'yjs', 15000)
      const cliStates = () => [...y.provider.awareness.getStates().entries()].filter(([id]) => id !== y.doc.clientID)
      await waitFor('yjs sees the watch awareness', () => cliStates().some(([, s]) => s.user === 'cli'), 15000)
      w.send({ awareness: { user: 'cli', cursor: 4 } })
      await waitFor('yjs sees the change', () => cliStates().some(([, s]) => s.cursor === 4), 15000)
      w.send({ awareness: null })
      await waitFor('yjs sees it removed', () => cliStates().length === 0, 15000)
      y.provider.awareness.setLocalState(null)
      await waitFor('watch prints the Yjs client removed', () => {
        const a = w.lastAwareness()
        return a !== null && Object.keys(a).length === 0
      }, 15000)
    } finally {
      const st = await w.stop()
      assert(st.code === 0, `watch exits 0: ${JSON.stringify(st)} ${w.err}`)
      y.provider.destroy()
    }
  },

  async 'an edit made while no watch runs goes out when one starts' () {
    const y = connect(server, 'later')
    await synced(y)
    y.doc.getText('t').insert(0, 'base')
    let w = watch('later')
    await waitFor('first watch synced', () => w.lastDoc()?.t === 'base', 15000)
    let st = await w.stop()
    assert(st.code === 0, `first watch exits 0: ${JSON.stringify(st)} ${w.err}`)

    const r = cli('http://127.0.0.1:1', 'edit', 'later', '--text', 't', '--insert', '4', '--string', ' +offline')
    assert(r.status === 3, `offline edit kept (exit 3): ${r.status} ${r.err}`)
    y.doc.getText('t').insert(0, 'yjs meanwhile: ')
    await new Promise(resolve => setTimeout(resolve, 300))
    assert(!y.doc.getText('t').toString().includes('offline'), 'not delivered yet')

    w = watch('later')
    try {
      await waitFor('yjs gets the offline edit', () => y.doc.getText('t').toString() === 'yjs meanwhile: base +offline', 15000)
      await waitFor('watch shows both', () => w.lastDoc()?.t === 'yjs meanwhile: base +offline', 15000)
      // The first line is the cached copy, printed before connecting.
      assert(w.lines[0].doc.t === 'base +offline', `first line is the cache: ${JSON.stringify(w.lines[0])}`)
    } finally {
      st = await w.stop()
      y.provider.destroy()
    }
    assert(st.code === 0, `second watch exits 0: ${JSON.stringify(st)} ${w.err}`)
    assert(!/kept for the next sync/.test(w.err), `nothing left unsent: ${w.err}`)
  }
})

const st = await stopServer(server)
removeDir(dir)
if (st.code !== 0) { console.log('FAIL server exit status ' + st.code); process.exit(1) }
process.exit(failed ? 1 : 0)
