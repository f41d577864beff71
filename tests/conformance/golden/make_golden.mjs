#!/usr/bin/env node
// Freezes updates made by real Yjs (13.6.33) into golden scenario files beside
// this script, in the conformance scenario format (../README.md). The runner
// checks them without Node:  build/bin/conformance_runner tests/conformance/golden/*.jsonl
// Regenerate (from /work/main):  node tests/conformance/golden/make_golden.mjs
// Each case is deterministic: fixed client ids, fixed edits, fixed delivery order;
// every case is written twice, with gc on and off.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Y, reseedFill, getRoot, checkpointLine, doclessLines, mergeLine } from '../node/common.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))

// A small harness: editors with fixed ids; every local transaction's v1/v2
// update is captured; deliver() feeds the observer in a chosen order.
class Case {
  constructor (name, gc, specs, ids) {
    this.name = name
    this.gc = gc
    this.specs = specs
    this.docs = ids.map(id => { const d = new Y.Doc({ gc, guid: `e${id}` }); d.clientID = id; return d })
    this.observer = new Y.Doc({ gc, guid: 'observer' })
    this.observer.clientID = 999999
    for (const d of this.docs.concat([this.observer])) for (const [n, k] of specs) getRoot(d, n, k)
    this.updates = [] // {u1, u2, from}
    this.log = []
    this.lines = []
    this.lines.push(JSON.stringify({ t: 's', seed: 0, name: `${name}/${gc ? 'gc' : 'nogc'}`, gc, long: false, types: ['golden'], client: this.observer.clientID, editors: ids, roots: specs }) + '\n')
  }

  root (i, name) { const k = this.specs.find(s => s[0] === name)[1]; return getRoot(this.docs[i], name, k) }

  // Local change on doc i; returns the index of its update.
  edit (i, fn) {
    const d = this.docs[i]
    let u1 = null
    let u2 = null
    const h1 = u => { u1 = u }
    const h2 = u => { u2 = u }
    d.on('update', h1)
    d.on('updateV2', h2)
    d.transact(() => fn(d))
    d.off('update', h1)
    d.off('updateV2', h2)
    if (u1 === null) throw new Error(`${this.name}: edit produced no update`)
    this.updates.push({ u1, u2, from: i })
    return this.updates.length - 1
  }

  // Editor-to-editor sync (not recorded).
  sync (from, to) {
    Y.applyUpdate(this.docs[to], Y.encodeStateAsUpdate(this.docs[from], Y.encodeStateVector(this.docs[to])))
  }

  syncAll () {
    for (let a = 0; a < this.docs.length; a++) for (let b = 0; b < this.docs.length; b++) if (a !== b) this.sync(a, b)
  }

  feed (u1, u2, f, how) {
    if (f === 1) Y.applyUpdate(this.observer, u1)
    else Y.applyUpdateV2(this.observer, u2)
    this.lines.push(JSON.stringify({ t: 'u', i: this.log.length, f, how, u1: Buffer.from(u1).toString('base64'), u2: Buffer.from(u2).toString('base64') }) + '\n')
    this.log.push({ u1, u2 })
  }

  // Feeds the captured updates with these indices, alternating formats.
  deliver (indices) {
    for (const i of indices) { const u = this.updates[i]; this.feed(u.u1, u.u2, (this.log.length % 2) + 1, 'update') }
  }

  // A full-state sync from editor i (against the observer's state vector unless whole).
  fullSync (i, whole = false) {
    const sv = whole ? undefined : Y.encodeStateVector(this.observer)
    this.feed(Y.encodeStateAsUpdate(this.docs[i], sv), Y.encodeStateAsUpdateV2(this.docs[i], sv), (this.log.length % 2) + 1, 'sync')
  }

  checkpoint (final = false) {
    const svs = [new Uint8Array([0])]
    for (const d of this.docs) svs.push(Y.encodeStateVector(d))
    this.lines.push(checkpointLine(this.observer, this.specs, this.log.length, final, svs))
  }

  finish () {
    this.checkpoint(true)
    const all = this.log.map((_, i) => i)
    const half = all.filter(i => i % 2 === 0)
    for (const idx of [all, half]) {
      for (const v of [1, 2]) this.lines.push(mergeLine(v, idx, idx.map(i => (v === 1 ? this.log[i].u1 : this.log[i].u2)), this.gc, v === 1).line)
    }
    const svs = [new Uint8Array([0]), Y.encodeStateVector(this.docs[0])]
    for (let i = 0; i < this.log.length; i++) {
      for (const v of [1, 2]) for (const l of doclessLines(v, v === 1 ? this.log[i].u1 : this.log[i].u2, { in: i }, svs)) this.lines.push(l)
    }
    this.lines.push(JSON.stringify({ t: 'e', seed: 0, name: `${this.name}/${this.gc ? 'gc' : 'nogc'}`, deliveries: this.log.length }) + '\n')
    return this.lines.join('')
  }
}

const T = [['text', 'text']]
const cases = {
  text_basic (c) {
    const a = c.edit(0, () => c.root(0, 'text').insert(0, 'hello world'))
    const b = c.edit(1, () => c.root(1, 'text').insert(0, 'abc'))
    const d = c.edit(0, () => c.root(0, 'text').delete(2, 5))
    const e = c.edit(0, () => c.root(0, 'text').insert(3, 'XY'))
    c.deliver([b, a]); c.checkpoint(); c.deliver([d, e]); c.checkpoint()
    c.syncAll()
    const f = c.edit(1, () => { const t = c.root(1, 'text'); t.delete(0, t.length); t.insert(0, 'fresh') })
    c.deliver([f, f])
  },
  text_format (c) {
    const a = c.edit(0, () => { const t = c.root(0, 'text'); t.insert(0, 'bold plain', { bold: true }); t.insert(4, ' mixed') })
    c.syncAll()
    const b = c.edit(1, () => c.root(1, 'text').format(0, 7, { italic: true, color: '#f00' }))
    const d = c.edit(0, () => c.root(0, 'text').format(2, 6, { bold: null }))
    const e = c.edit(0, () => { const t = c.root(0, 'text'); t.insertEmbed(1, { image: 'x.png' }); t.insertEmbed(3, { formula: [1, 2.5, null] }, { size: 12 }) })
    const f = c.edit(1, () => c.root(1, 'text').insert(0, 'link', { link: { href: 'https://example.com' } }))
    c.deliver([a, b, d]); c.checkpoint(); c.deliver([e, f])
  },
  text_surrogates (c) {
    const a = c.edit(0, () => c.root(0, 'text').insert(0, 'a😀b👍🏽c🏳️‍🌈'))
    c.syncAll()
    const b = c.edit(1, () => c.root(1, 'text').insert(2, 'X')) // inside 😀
    const d = c.edit(0, () => c.root(0, 'text').delete(5, 1)) // half of 👍
    const e = c.edit(0, () => c.root(0, 'text').format(1, 1, { bold: true })) // half of 😀
    c.deliver([a, d, b, e])
  },
  text_delta (c) {
    const a = c.edit(0, () => c.root(0, 'text').applyDelta([{ insert: 'Hello ' }, { insert: 'World', attributes: { bold: true } }, { insert: '\n' }]))
    c.syncAll()
    const b = c.edit(1, () => c.root(1, 'text').applyDelta([{ retain: 2 }, { delete: 3 }, { retain: 3, attributes: { italic: true } }, { insert: '!' }]))
    c.deliver([a, b])
  },
  array_any (c) {
    const a = c.edit(0, () => c.root(0, 'array').insert(0, [0, 1, -1, 127, 128, -64, 2147483647, -2147483648, 2147483648, 4294967296, 2 ** 53 - 1, -(2 ** 53), 0.5, -1.25, 1 / 3, 1e300, 1e-300, 65504.5, NaN, Infinity, -Infinity]))
    const b = c.edit(1, () => c.root(1, 'array').push(['', 'str', 'ü中😀', true, false, null, { a: 1, b: [1, 'x', null, undefined], c: { d: 2n ** 62n, e: undefined }, 10: 'num key', 2: 'two' }, [[], {}, [1, [2, [3]]]]]))
    const d = c.edit(0, () => c.root(0, 'array').insert(3, [new Uint8Array([]), new Uint8Array([0, 1, 255]), -0]))
    c.deliver([a, b, d])
  },
  array_delete (c) {
    const a = c.edit(0, () => c.root(0, 'array').push([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    c.syncAll()
    const b = c.edit(1, () => c.root(1, 'array').delete(2, 5))
    const d = c.edit(0, () => { c.root(0, 'array').delete(0, 1); c.root(0, 'array').insert(4, ['mid']) })
    const e = c.edit(2, () => c.root(2, 'array').unshift(['first']))
    c.deliver([a, d, e]); c.checkpoint(); c.deliver([b])
    c.syncAll()
    const f = c.edit(2, () => c.root(2, 'array').delete(0, c.root(2, 'array').length))
    c.deliver([f])
  },
  map_basic (c) {
    const a = c.edit(0, () => { const m = c.root(0, 'map'); m.set('a', 1); m.set('b', 'two'); m.set('0', [1]); m.set('big', 12345678901234567890n); m.set('undef', undefined); m.set('bin', new Uint8Array([9, 8])) })
    const b = c.edit(1, () => { const m = c.root(1, 'map'); m.set('a', 'conflict'); m.set('c', { x: null }) })
    const d = c.edit(0, () => { const m = c.root(0, 'map'); m.delete('b'); m.set('a', 3) })
    c.deliver([a, b]); c.checkpoint(); c.deliver([d])
    c.syncAll()
    const e = c.edit(1, () => { c.root(1, 'map').delete('a'); c.root(1, 'map').delete('bin') })
    c.deliver([e])
  },
  nested (c) {
    const a = c.edit(0, () => {
      const inner = new Y.Array()
      inner.insert(0, [1, new Y.Text('nested text'), new Y.Map([['k', 'v']])])
      c.root(0, 'map').set('list', inner)
      c.root(0, 'array').insert(0, [new Y.Map([['deep', new Y.Array()]])])
    })
    c.syncAll()
    const b = c.edit(1, () => {
      const list = c.root(1, 'map').get('list')
      list.get(1).insert(0, '>> ', { bold: true })
      list.get(2).set('k2', [1, 2])
      c.root(1, 'array').get(0).get('deep').push(['x', new Y.Text('y')])
    })
    const d = c.edit(0, () => c.root(0, 'map').set('list', 'replaced')) // deletes the nested subtree
    c.deliver([a, b]); c.checkpoint(); c.deliver([d])
  },
  xml (c) {
    const a = c.edit(0, () => {
      const p = new Y.XmlElement('p')
      p.setAttribute('class', 'intro')
      p.insert(0, [new Y.XmlText('Hello '), new Y.XmlElement('b')])
      c.root(0, 'xml').insert(0, [p, new Y.XmlText('tail'), new Y.XmlHook('widget')])
    })
    c.syncAll()
    const b = c.edit(1, () => {
      const p = c.root(1, 'xml').get(0)
      p.setAttribute('id', 'p1')
      p.removeAttribute('class')
      p.get(0).insert(6, 'world', { em: {} })
      p.get(1).insert(0, [new Y.XmlText('bold')])
      c.root(1, 'xml').get(2).set('config', { a: 1 })
    })
    const d = c.edit(0, () => { c.root(0, 'xml').get(1).format(0, 2, { i: { style: 'x' } }); c.root(0, 'xml').insert(1, [new Y.XmlElement('hr')]) })
    const e = c.edit(0, () => c.root(0, 'xml').delete(1, 1))
    c.deliver([a, b, d, e])
  },
  subdoc (c) {
    const a = c.edit(0, () => {
      c.root(0, 'map').set('plain', new Y.Doc({ guid: 'sub-plain' }))
      c.root(0, 'map').set('opts', new Y.Doc({ guid: 'sub-opts', autoLoad: true, gc: false, meta: { title: 'x', n: 1 } }))
      c.root(0, 'array').insert(0, [new Y.Doc({ guid: 'sub-in-array', shouldLoad: false }), 'after'])
    })
    const b = c.edit(1, () => c.root(1, 'array').push([new Y.Doc({ guid: 'sub-2', meta: 'm' })]))
    c.deliver([a, b])
    c.syncAll()
    const d = c.edit(0, () => { c.root(0, 'map').delete('plain'); c.root(0, 'array').delete(0, 1) })
    c.deliver([d])
  },
  pending (c) {
    // Out-of-order delivery: later updates arrive before their dependencies.
    const a = c.edit(0, () => c.root(0, 'text').insert(0, 'abc'))
    const b = c.edit(0, () => c.root(0, 'text').insert(3, 'def'))
    const d = c.edit(0, () => c.root(0, 'text').delete(1, 3))
    const e = c.edit(0, () => { c.root(0, 'map').set('k', 1); c.root(0, 'text').insert(0, 'Z') })
    c.deliver([d]); c.checkpoint(); c.deliver([e, b]); c.checkpoint(); c.deliver([a])
  },
  concurrent (c) {
    const ids = []
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3; i++) {
        ids.push(c.edit(i, () => {
          c.root(i, 'text').insert(Math.min(round, c.root(i, 'text').length), `${i}${round}`)
          c.root(i, 'array').insert(0, [i * 10 + round])
          c.root(i, 'map').set('k', `${i}:${round}`)
        }))
      }
      if (round % 2 === 1) c.syncAll()
    }
    c.deliver(ids.slice().reverse()); c.checkpoint()
    c.fullSync(1); c.fullSync(2, true)
  },
  gc_sync (c) {
    // Full-state syncs from an editor whose deleted content is collected (GC structs)
    // or kept, depending on the case's gc.
    c.edit(0, () => { c.root(0, 'array').push([1, 2, 3, new Y.Map([['a', 1]])]); c.root(0, 'text').insert(0, 'to be deleted') })
    c.edit(0, () => { c.root(0, 'array').delete(1, 3); c.root(0, 'text').delete(0, 6) })
    c.fullSync(0, true)
    c.checkpoint()
    c.edit(1, () => c.root(1, 'text').insert(0, 'other'))
    c.fullSync(1)
  }
}

const specsFor = {
  text_basic: T, text_format: T, text_surrogates: T, text_delta: T,
  array_any: [['array', 'array']], array_delete: [['array', 'array']], map_basic: [['map', 'map']],
  nested: [['array', 'array'], ['map', 'map']], xml: [['xml', 'xml']], subdoc: [['array', 'array'], ['map', 'map']],
  pending: [['text', 'text'], ['map', 'map']], concurrent: [['text', 'text'], ['array', 'array'], ['map', 'map']],
  gc_sync: [['text', 'text'], ['array', 'array']]
}

const ids = [3, 4294967295, 123456789]
let written = 0
for (const [name, fn] of Object.entries(cases)) {
  let text = ''
  for (const gc of [true, false]) {
    reseedFill(12345)
    const c = new Case(name, gc, specsFor[name], ids)
    fn(c)
    text += c.finish()
  }
  fs.writeFileSync(path.join(here, `${name}.jsonl`), text)
  written++
}
console.error(`make_golden: wrote ${written} files to ${here}`)
