// Unmodified y-websocket in a real browser (headless Chromium, Debian's
// package, driven by puppeteer-core): two pages in separate browser contexts
// and a Node client converge through the real binary, with concurrent text,
// map and array edits and a page editing offline; awareness crosses between
// them and is removed when a page closes; with auth on, the stock provider's
// `params: {token}` is what lets a page in.
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import * as esbuild from 'esbuild'
import puppeteer from 'puppeteer-core'
import {
  Y, assert, canonical, connect, removeDir, run, sleep, startServer, stopServer, synced, tempDir, waitFor
} from '../server/lib.mjs'
import { mintToken, startAuthServer } from '../auth/lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'

// The page: one HTML file and the bundled script, served on loopback.
const bundle = await esbuild.build({
  entryPoints: [join(here, 'page.js')], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'error'
})
const script = bundle.outputFiles[0].text
const site = createServer((req, res) => {
  if (req.url === '/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' })
    return res.end(script)
  }
  res.writeHead(200, { 'content-type': 'text/html' })
  res.end('<!doctype html><meta charset="utf-8"><title>corates-sync browser test</title><script src="/page.js"></script>')
})
await new Promise(resolve => site.listen(0, '127.0.0.1', resolve))
const siteUrl = `http://127.0.0.1:${site.address().port}/`

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  timeout: 30000
})
console.log(`  ${await browser.version()}`)

// A page in its own browser context (its own storage and connections).
async function openPage (wsUrl, room, name, params = {}) {
  const context = await browser.createBrowserContext()
  const page = await context.newPage()
  page.setDefaultTimeout(10000)
  page.on('pageerror', e => console.log(`  [${name}] page error: ${e.message}`))
  await page.goto(siteUrl)
  await page.waitForFunction('window.corates && window.corates.ready')
  const clientID = await page.evaluate((u, r, p, n) => window.corates.start(u, r, p, n), wsUrl, room, params, name)
  return { page, context, name, clientID }
}
const call = (p, fn, ...args) => p.page.evaluate((f, a) => window.corates[f](...a), fn, args)

function nodeState (doc) {
  return JSON.stringify({
    text: doc.getText('text').toString(),
    map: canonical(doc.getMap('map').toJSON()),
    array: doc.getArray('array').toJSON(),
    sv: [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0])
  })
}
function nodeEdit (doc, i) {
  doc.transact(() => {
    const text = doc.getText('text')
    text.insert(Math.min(i % 5, text.length), `N${i} `)
    doc.getMap('map').set(`N-${i % 3}`, { i, by: 'N' })
    doc.getArray('array').push([`N${i}`])
  })
}

async function converged (pages, nodeDocs, what, timeoutMs = 15000) {
  let last = []
  await waitFor(what, async () => {
    last = [...await Promise.all(pages.map(p => call(p, 'state'))), ...nodeDocs.map(nodeState)]
    return last.every(s => s === last[0])
  }, timeoutMs).catch(e => {
    throw new Error(`${e.message}; states:\n    ${last.join('\n    ')}`)
  })
  return JSON.parse(last[0])
}

const dir = tempDir()
const server = await startServer({ dataDir: dir })

// Two pages and a Node client (announcing `nodeName` in awareness) in one
// room, all synced.
async function trio (room, nodeName) {
  const a = await openPage(server.ws, room, 'A')
  const b = await openPage(server.ws, room, 'B')
  const n = connect(server, room)
  if (nodeName) n.provider.awareness.setLocalStateField('user', { name: nodeName })
  await synced(n)
  await waitFor('pages synced', async () => (await call(a, 'status')).synced && (await call(b, 'status')).synced)
  return { a, b, n }
}

const failed = await run({
  async 'two browsers and a Node client converge on concurrent text, map and array edits' () {
    const room = 'browser-collab'
    const { a, b, n } = await trio(room)
    for (let i = 0; i < 30; i++) {
      await Promise.all([call(a, 'edit', 'A', i), call(b, 'edit', 'B', i)])
      nodeEdit(n.doc, i)
      if (i % 10 === 9) await sleep(20)
    }
    const s = await converged([a, b], [n.doc], 'convergence')
    assert(s.sv.length === 3, `three writers in the state vector: ${JSON.stringify(s.sv)}`)
    const keys = Object.keys(s.map).sort().join(',')
    assert(keys === 'A-0,A-1,A-2,A-3,B-0,B-1,B-2,B-3,N-0,N-1,N-2', 'map keys: ' + keys)
    assert(s.map['A-1'].i === 29 && s.map['B-1'].i === 29 && s.map['N-2'].i === 29, 'last writes win: ' + JSON.stringify(s.map))
    n.provider.destroy()
    await a.context.close()
    await b.context.close()
  },

  async 'a page edits offline, reconnects, and everyone converges' () {
    const room = 'browser-offline'
    const { a, b, n } = await trio(room)
    await call(a, 'edit', 'A', 0)
    await converged([a, b], [n.doc], 'first edit everywhere')
    await call(a, 'disconnect')
    await waitFor('A offline', async () => !(await call(a, 'status')).connected)
    for (let i = 1; i < 12; i++) {
      await call(a, 'edit', 'A', i)
      await call(b, 'edit', 'B', i)
      nodeEdit(n.doc, i)
    }
    // B and Node see each other, not A's offline edits.
    const partial = JSON.parse(await call(b, 'state'))
    assert(!partial.text.includes('A5 '), 'offline edits stayed offline')
    await call(a, 'connect')
    const s = await converged([a, b], [n.doc], 'convergence after reconnect')
    assert(s.text.includes('A11 ') && s.text.includes('B11 ') && s.text.includes('N11 '), 'everyone\'s edits: ' + s.text)
    n.provider.destroy()
    await a.context.close()
    await b.context.close()
  },

  async 'awareness crosses between pages and Node, and is removed when a page closes' () {
    const room = 'browser-awareness'
    const { a, b, n } = await trio(room, 'N')
    const names = async p => (await call(p, 'peers')).map(x => x.name).sort().join(',')
    await waitFor('A sees B and N', async () => await names(a) === 'B,N')
    await waitFor('B sees A and N', async () => await names(b) === 'A,N')
    await waitFor('N sees A', () => n.provider.awareness.getStates().has(a.clientID))
    await a.context.close()  // the tab goes away with its socket
    await waitFor('A removed for B', async () => await names(b) === 'N', 8000)
    await waitFor('A removed for N', () => !n.provider.awareness.getStates().has(a.clientID), 8000)
    n.provider.destroy()
    await b.context.close()
  }
})

const authDir = tempDir()
const authServer = await startAuthServer({ dataDir: authDir })
const authFailed = await run({
  async 'with auth on, a page passing its token as a provider param syncs; one without is kept out' () {
    const room = 'browser-auth'
    const token = mintToken(authDir, 'alice')
    const a = await openPage(authServer.ws, room, 'A', { token })
    const n = connect(authServer, room, new Y.Doc(), { params: { token } })
    await synced(n)
    await waitFor('A synced', async () => (await call(a, 'status')).synced)
    await call(a, 'edit', 'A', 1)
    nodeEdit(n.doc, 1)
    await converged([a], [n.doc], 'convergence with tokens')
    const stranger = await openPage(authServer.ws, room, 'S')
    await sleep(1500)
    const st = await call(stranger, 'status')
    assert(!st.synced, 'a page without a token never syncs')
    const seen = JSON.parse(await call(stranger, 'state'))
    assert(seen.text === '', 'nothing leaked to it: ' + seen.text)
    n.provider.destroy()
    await a.context.close()
    await stranger.context.close()
  }
})

await browser.close()
site.close()
const st = await stopServer(server)
const st2 = await stopServer(authServer)
removeDir(dir)
removeDir(authDir)
if (st.code !== 0 || st2.code !== 0) { console.log(`FAIL server exit status ${st.code} / ${st2.code}`); process.exit(1) }
process.exit(failed + authFailed ? 1 : 0)
