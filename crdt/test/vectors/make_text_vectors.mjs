// Builds crdt/test/vectors/text_vectors.inc from real Yjs (run from /work/main:
//   node crdt/test/vectors/make_text_vectors.mjs > crdt/test/vectors/text_vectors.inc
// ).
//
// Each vector is one JSON document: a list of docs with fixed clientIDs and a
// list of operations in a small language that text_test.cpp / xml_test.cpp
// interpret with our API. Yjs runs the same operations here; its results are
// stored inline: `check` ops get an `expect` member, and the vector ends with
// each doc's update log (the v1 'update' events, in order), its whole state
// (v1 and v2) and its observed event deltas.
//
// Operations (d = doc index, t = target path: [rootName, kind, childIndex...]
// where kind is 'text' | 'xml'; child indices walk XmlFragment/XmlElement
// children):
//   insert {t,i,s,a?}      Text.insert (a absent: inherit attributes)
//   embed {t,i,e,a?}       Text.insertEmbed with a JSON value
//   embedType {t,i,kind,init?,a?}  Text.insertEmbed with a new nested type
//   delete {t,i,n}         Text.delete / XmlFragment.delete
//   format {t,i,n,a}       Text.format
//   applyDelta {t,delta}   Text.applyDelta
//   textAttr {t,k,v}       Text.setAttribute (v null: removeAttribute)
//   xmlInsert {t,i,nodes}  XmlFragment.insert of prelim nodes
//   xmlInsertAfter {t,ref,nodes}  XmlFragment.insertAfter (ref: child index or -1 for null)
//   setAttribute {t,k,v} / removeAttribute {t,k}   XmlElement
//   hookSet {t,k,v}        XmlHook (a Map) set
//   transact {ops}         several ops in one transaction of doc d
//   sync {from,to,v2?}     applyUpdate(to, encodeStateAsUpdate(from, sv(to)))
//   observe {t}            record YTextEvent deltas of that text
//   snapshot {name}        Y.snapshot(doc) (docs with gc:false)
//   check {t,snap?,prev?}  expect: {str, json, delta?}
// Prelim nodes: {el:name, attrs:{}, children:[]}, {text:string, delta?}, {hook:name, map:{}}.

import * as Y from 'yjs'

const hex = (u8) => Buffer.from(u8).toString('hex')

// mulberry32: small seeded PRNG, so the vectors are reproducible.
const rng = (seed) => () => {
  seed |= 0; seed = seed + 0x6D2B79F5 | 0
  let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
  return ((t ^ t >>> 14) >>> 0) / 4294967296
}

const clone = (v) => JSON.parse(JSON.stringify(v))

const makeNode = (n) => {
  if (n.el !== undefined) {
    const e = new Y.XmlElement(n.el)
    for (const [k, v] of Object.entries(n.attrs || {})) e.setAttribute(k, v)
    if (n.children) e.insert(0, n.children.map(makeNode))
    return e
  }
  if (n.text !== undefined) {
    const t = new Y.XmlText(n.text)
    if (n.delta) t.applyDelta(n.delta)
    return t
  }
  if (n.hook !== undefined) {
    const h = new Y.XmlHook(n.hook)
    for (const [k, v] of Object.entries(n.map || {})) h.set(k, v)
    return h
  }
  throw new Error('bad node')
}

const makeType = (kind, init) => {
  switch (kind) {
    case 'text': return new Y.Text(init)
    case 'map': { const m = new Y.Map(); for (const [k, v] of Object.entries(init || {})) m.set(k, v); return m }
    case 'array': { const a = new Y.Array(); if (init) a.insert(0, init); return a }
    case 'xmlElement': return makeNode({ el: init || 'p' })
    case 'xmlText': return new Y.XmlText(init)
  }
  throw new Error('bad kind ' + kind)
}

const resolve = (doc, t) => {
  let y = t[1] === 'text' ? doc.getText(t[0]) : doc.getXmlFragment(t[0])
  for (let i = 2; i < t.length; i++) y = y.get(t[i])
  return y
}

const runCase = (c) => {
  const docs = c.docs.map((d) => {
    const doc = new Y.Doc({ gc: d.gc !== false })
    doc.clientID = d.client
    return doc
  })
  const logs = docs.map(() => [])
  const events = docs.map(() => [])
  const snaps = docs.map(() => ({}))
  if (c.log !== false) docs.forEach((doc, i) => doc.on('update', (u) => logs[i].push(hex(u))))
  const exec = (d, op) => {
    const doc = docs[d]
    switch (op.op) {
      case 'insert': resolve(doc, op.t).insert(op.i, op.s, op.a === undefined ? undefined : clone(op.a)); break
      case 'embed': resolve(doc, op.t).insertEmbed(op.i, clone(op.e), op.a === undefined ? undefined : clone(op.a)); break
      case 'embedType': resolve(doc, op.t).insertEmbed(op.i, makeType(op.kind, clone(op.init)), op.a === undefined ? undefined : clone(op.a)); break
      case 'delete': resolve(doc, op.t).delete(op.i, op.n); break
      case 'format': resolve(doc, op.t).format(op.i, op.n, clone(op.a)); break
      case 'applyDelta': resolve(doc, op.t).applyDelta(clone(op.delta)); break
      case 'textAttr': if (op.v === null) resolve(doc, op.t).removeAttribute(op.k); else resolve(doc, op.t).setAttribute(op.k, clone(op.v)); break
      case 'xmlInsert': resolve(doc, op.t).insert(op.i, op.nodes.map(makeNode)); break
      case 'xmlInsertAfter': { const f = resolve(doc, op.t); f.insertAfter(op.ref < 0 ? null : f.get(op.ref), op.nodes.map(makeNode)); break }
      case 'setAttribute': resolve(doc, op.t).setAttribute(op.k, clone(op.v)); break
      case 'removeAttribute': resolve(doc, op.t).removeAttribute(op.k); break
      case 'hookSet': resolve(doc, op.t).set(op.k, clone(op.v)); break
      case 'transact': doc.transact(() => op.ops.forEach((o) => exec(d, o))); break
      case 'observe': resolve(doc, op.t).observe((e) => events[d].push(JSON.stringify(e.delta))); break
      case 'snapshot': snaps[d][op.name] = Y.snapshot(doc); break
      case 'check': {
        const y = resolve(doc, op.t)
        const expect = { str: y.toString(), json: JSON.stringify(y.toJSON()) }
        if (y instanceof Y.Text) {
          expect.delta = JSON.stringify(op.snap !== undefined
            ? y.toDelta(snaps[d][op.snap], op.prev === undefined ? undefined : snaps[d][op.prev])
            : y.toDelta())
        }
        op.expect = expect
        break
      }
      default: throw new Error('bad op ' + op.op)
    }
  }
  for (const op of c.ops) {
    if (op.op === 'sync') {
      const to = docs[op.to]; const from = docs[op.from]
      if (op.v2) Y.applyUpdateV2(to, Y.encodeStateAsUpdateV2(from, Y.encodeStateVector(to)))
      else Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)))
    } else {
      exec(op.d, op)
    }
  }
  // Roots named in the ops, so a fresh doc can declare them before loading.
  const roots = []
  const addRoot = (t) => { if (t && !roots.some((r) => r[0] === t[0])) roots.push([t[0], t[1]]) }
  const scan = (ops) => ops.forEach((o) => { addRoot(o.t); if (o.ops) scan(o.ops) })
  scan(c.ops)
  c.roots = roots
  const content = (doc) => roots.map(([name, kind]) => kind === 'text'
    ? JSON.stringify(doc.getText(name).toDelta())
    : doc.getXmlFragment(name).toString())
  const fresh = (client, gc) => {
    const doc = new Y.Doc({ gc })
    doc.clientID = client
    roots.forEach(([name, kind]) => kind === 'text' ? doc.getText(name) : doc.getXmlFragment(name))
    return doc
  }
  c.result = docs.map((doc, i) => {
    const v1 = Y.encodeStateAsUpdate(doc)
    const r = {
      v1: hex(v1),
      v2: hex(Y.encodeStateAsUpdateV2(doc)),
      content: content(doc),
      log: c.log !== false ? logs[i] : undefined,
      events: events[i]
    }
    // The whole state loaded into a fresh doc (a server opening the document).
    const reload = fresh(999, doc.gc)
    Y.applyUpdate(reload, v1)
    r.reload = { v1: hex(Y.encodeStateAsUpdate(reload)), v2: hex(Y.encodeStateAsUpdateV2(reload)), content: content(reload) }
    // The doc's updates replayed one by one into a fresh doc (remote cleanup runs there).
    if (c.log !== false) {
      const replay = fresh(998, doc.gc)
      logs[i].forEach((u) => Y.applyUpdate(replay, Buffer.from(u, 'hex')))
      r.replay = { v1: hex(Y.encodeStateAsUpdate(replay)), content: content(replay) }
    }
    return r
  })
  return c
}

const T = ['t', 'text']
const cases = []
const add = (name, docs, ops, extra = {}) => cases.push({ name, docs, ops, ...extra })

// ---- hand-written cases -------------------------------------------------
add('insert_plain', [{ client: 1 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'hello world' },
  { op: 'insert', d: 0, t: T, i: 5, s: ',' },
  { op: 'delete', d: 0, t: T, i: 0, n: 1 },
  { op: 'insert', d: 0, t: T, i: 0, s: 'H' },
  { op: 'check', d: 0, t: T }
])
add('insert_formatted', [{ client: 7 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'abc', a: { bold: true } },
  { op: 'insert', d: 0, t: T, i: 3, s: 'def' },
  { op: 'insert', d: 0, t: T, i: 3, s: 'XY', a: {} },
  { op: 'insert', d: 0, t: T, i: 1, s: 'z', a: { italic: true, bold: true } },
  { op: 'check', d: 0, t: T }
])
add('format_ranges', [{ client: 3 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'The quick brown fox' },
  { op: 'format', d: 0, t: T, i: 4, n: 5, a: { bold: true } },
  { op: 'format', d: 0, t: T, i: 2, n: 10, a: { italic: true, color: 'red' } },
  { op: 'format', d: 0, t: T, i: 6, n: 2, a: { bold: null } },
  { op: 'format', d: 0, t: T, i: 0, n: 19, a: { color: null } },
  { op: 'format', d: 0, t: T, i: 15, n: 10, a: { link: { href: 'https://x.y' } } },
  { op: 'check', d: 0, t: T }
])
add('delete_cleans_formats', [{ client: 4 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'aaaa' },
  { op: 'insert', d: 0, t: T, i: 4, s: 'bbbb', a: { bold: true } },
  { op: 'insert', d: 0, t: T, i: 8, s: 'cccc', a: { bold: true, italic: true } },
  { op: 'insert', d: 0, t: T, i: 12, s: 'dddd' },
  { op: 'delete', d: 0, t: T, i: 4, n: 4 },
  { op: 'check', d: 0, t: T },
  { op: 'delete', d: 0, t: T, i: 2, n: 8 },
  { op: 'check', d: 0, t: T }
])
add('embeds', [{ client: 5 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'ab' },
  { op: 'embed', d: 0, t: T, i: 1, e: { image: 'x.png' } },
  { op: 'embed', d: 0, t: T, i: 0, e: { formula: 'e=mc^2' }, a: { bold: true } },
  { op: 'embedType', d: 0, t: T, i: 2, kind: 'map', init: { a: 1, b: 'two' } },
  { op: 'embedType', d: 0, t: T, i: 5, kind: 'text', init: 'nested' },
  { op: 'embedType', d: 0, t: T, i: 0, kind: 'array', init: [1, 2, 3] },
  { op: 'check', d: 0, t: T },
  { op: 'delete', d: 0, t: T, i: 1, n: 2 },
  { op: 'check', d: 0, t: T }
])
add('surrogates', [{ client: 6 }, { client: 9 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'a😀b😀c' },
  { op: 'sync', from: 0, to: 1 },
  { op: 'insert', d: 0, t: T, i: 2, s: 'X' },
  { op: 'delete', d: 1, t: T, i: 5, n: 1 },
  { op: 'check', d: 0, t: T },
  { op: 'check', d: 1, t: T },
  { op: 'sync', from: 0, to: 1 },
  { op: 'sync', from: 1, to: 0 },
  { op: 'format', d: 0, t: T, i: 1, n: 1, a: { bold: true } },
  { op: 'insert', d: 1, t: T, i: 6, s: '𝄞é' },
  { op: 'sync', from: 0, to: 1 },
  { op: 'sync', from: 1, to: 0 },
  { op: 'check', d: 0, t: T },
  { op: 'check', d: 1, t: T }
])
add('concurrent_formatting', [{ client: 10 }, { client: 20 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'concurrent formatting test' },
  { op: 'sync', from: 0, to: 1 },
  { op: 'format', d: 0, t: T, i: 0, n: 10, a: { bold: true } },
  { op: 'format', d: 1, t: T, i: 5, n: 10, a: { bold: true } },
  { op: 'format', d: 1, t: T, i: 2, n: 3, a: { italic: true } },
  { op: 'sync', from: 0, to: 1 },
  { op: 'sync', from: 1, to: 0 },
  { op: 'check', d: 0, t: T },
  { op: 'check', d: 1, t: T },
  { op: 'format', d: 0, t: T, i: 3, n: 4, a: { bold: null } },
  { op: 'format', d: 1, t: T, i: 0, n: 20, a: { bold: 'x' } },
  { op: 'delete', d: 1, t: T, i: 8, n: 3 },
  { op: 'sync', from: 1, to: 0 },
  { op: 'sync', from: 0, to: 1 },
  { op: 'check', d: 0, t: T },
  { op: 'check', d: 1, t: T }
])
add('apply_delta', [{ client: 11 }], [
  { op: 'applyDelta', d: 0, t: T, delta: [{ insert: 'Gandalf', attributes: { bold: true } }, { insert: ' the ' }, { insert: 'Grey', attributes: { color: '#cccccc' } }] },
  { op: 'check', d: 0, t: T },
  { op: 'applyDelta', d: 0, t: T, delta: [{ retain: 2 }, { delete: 3 }, { retain: 3, attributes: { italic: true } }, { insert: { img: 1 } }, { retain: 20, attributes: { bold: null } }, { insert: 'end\n' }] },
  { op: 'check', d: 0, t: T }
])
add('text_attributes', [{ client: 12 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'x' },
  { op: 'textAttr', d: 0, t: T, k: 'lang', v: 'en' },
  { op: 'textAttr', d: 0, t: T, k: 'n', v: 2 },
  { op: 'textAttr', d: 0, t: T, k: 'lang', v: null },
  { op: 'check', d: 0, t: T }
])
add('observe_events', [{ client: 13 }, { client: 14 }], [
  { op: 'observe', d: 0, t: T },
  { op: 'observe', d: 1, t: T },
  { op: 'insert', d: 0, t: T, i: 0, s: 'hello world' },
  { op: 'sync', from: 0, to: 1 },
  { op: 'format', d: 1, t: T, i: 0, n: 5, a: { bold: true } },
  { op: 'delete', d: 0, t: T, i: 6, n: 2 },
  { op: 'embed', d: 0, t: T, i: 3, e: { x: 1 } },
  { op: 'sync', from: 1, to: 0 },
  { op: 'sync', from: 0, to: 1 },
  { op: 'transact', d: 0, ops: [{ op: 'insert', d: 0, t: T, i: 2, s: 'AB' }, { op: 'format', d: 0, t: T, i: 0, n: 4, a: { italic: true } }, { op: 'delete', d: 0, t: T, i: 8, n: 1 }] },
  { op: 'sync', from: 0, to: 1 },
  { op: 'check', d: 0, t: T },
  { op: 'check', d: 1, t: T }
])
add('snapshots', [{ client: 15, gc: false }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'abcdef' },
  { op: 'snapshot', d: 0, name: 's1' },
  { op: 'delete', d: 0, t: T, i: 1, n: 2 },
  { op: 'insert', d: 0, t: T, i: 3, s: 'XYZ', a: { bold: true } },
  { op: 'snapshot', d: 0, name: 's2' },
  { op: 'check', d: 0, t: T, snap: 's1' },
  { op: 'check', d: 0, t: T, snap: 's2', prev: 's1' },
  { op: 'check', d: 0, t: T }
])
add('late_root_access', [{ client: 16 }, { client: 17 }], [
  { op: 'insert', d: 0, t: T, i: 0, s: 'formatted', a: { bold: true } },
  { op: 'format', d: 0, t: T, i: 2, n: 3, a: { italic: true } },
  { op: 'sync', from: 0, to: 1 },
  { op: 'insert', d: 1, t: T, i: 4, s: 'zz' },
  { op: 'check', d: 1, t: T }
])

const X = ['x', 'xml']
add('xml_basic', [{ client: 21 }], [
  { op: 'xmlInsert', d: 0, t: X, i: 0, nodes: [{ el: 'p', attrs: { b: '2', a: '1' }, children: [{ text: 'hello' }, { el: 'B', children: [{ text: 'bold' }] }] }, { text: 'tail' }] },
  { op: 'check', d: 0, t: X },
  { op: 'setAttribute', d: 0, t: [...X, 0], k: 'class', v: 'intro' },
  { op: 'removeAttribute', d: 0, t: [...X, 0], k: 'a' },
  { op: 'insert', d: 0, t: [...X, 0, 0], i: 5, s: ' world', a: { strong: {}, em: { class: 'x', id: 'y' } } },
  { op: 'format', d: 0, t: [...X, 1], i: 0, n: 2, a: { i: true } },
  { op: 'xmlInsertAfter', d: 0, t: X, ref: 0, nodes: [{ hook: 'widget', map: { k: 'v' } }] },
  { op: 'xmlInsertAfter', d: 0, t: X, ref: -1, nodes: [{ el: 'h1', children: [{ text: 'Title' }] }] },
  { op: 'check', d: 0, t: X },
  { op: 'check', d: 0, t: [...X, 1, 0] },
  { op: 'delete', d: 0, t: X, i: 2, n: 1 },
  { op: 'check', d: 0, t: X }
])
add('xml_concurrent', [{ client: 22 }, { client: 23 }], [
  { op: 'xmlInsert', d: 0, t: X, i: 0, nodes: [{ el: 'div', children: [{ text: 'one' }] }] },
  { op: 'sync', from: 0, to: 1 },
  { op: 'xmlInsert', d: 0, t: [...X, 0], i: 1, nodes: [{ el: 'span', attrs: { x: 'a' } }] },
  { op: 'xmlInsert', d: 1, t: [...X, 0], i: 1, nodes: [{ text: 'two', delta: [{ insert: 'pre', attributes: { b: true } }] }] },
  { op: 'setAttribute', d: 0, t: [...X, 0], k: 'k', v: 'from0' },
  { op: 'setAttribute', d: 1, t: [...X, 0], k: 'k', v: 'from1' },
  { op: 'sync', from: 0, to: 1, v2: true },
  { op: 'sync', from: 1, to: 0 },
  { op: 'check', d: 0, t: X },
  { op: 'check', d: 1, t: X }
])

// ---- seeded random cases -------------------------------------------------
const ATTRS = [{ bold: true }, { bold: null }, { italic: true }, { italic: null }, { color: 'red' }, { color: 'blue' },
  { color: null }, { bold: true, color: 'red' }, { link: { href: 'a' } }, { link: null }, {},
  // Object values compare by identity in Yjs (y-prosemirror stores marks like this).
  { b: {} }, { b: null }, { link: { href: 'b' } }, { b: {}, link: { href: 'a' } }]
const CHARS = ['a', 'b', 'c', 'd', ' ', '\n', 'é', '😀', 'xyz', 'hello ']
const randomText = (r, doc) => {
  const ops = []
  const len = doc.len
  const k = r()
  const pick = (a) => a[Math.floor(r() * a.length)]
  if (k < 0.45 || len === 0) {
    let s = ''
    const n = 1 + Math.floor(r() * 3)
    for (let i = 0; i < n; i++) s += pick(CHARS)
    const op = { op: 'insert', t: T, i: Math.floor(r() * (len + 1)), s }
    if (r() < 0.3) op.a = clone(pick(ATTRS))
    ops.push(op)
  } else if (k < 0.7) {
    const i = Math.floor(r() * len)
    ops.push({ op: 'delete', t: T, i, n: 1 + Math.floor(r() * Math.min(5, len - i)) })
  } else if (k < 0.9) {
    const i = Math.floor(r() * len)
    ops.push({ op: 'format', t: T, i, n: 1 + Math.floor(r() * (len - i)), a: clone(pick(ATTRS)) })
  } else if (k < 0.95) {
    const op = { op: 'embed', t: T, i: Math.floor(r() * (len + 1)), e: { e: Math.floor(r() * 100) } }
    if (r() < 0.5) op.a = clone(pick(ATTRS))
    ops.push(op)
  } else {
    const i = Math.floor(r() * (len + 1))
    ops.push({ op: 'applyDelta', t: T, delta: [{ retain: i }, { insert: 'Δ', attributes: clone(pick(ATTRS)) }, { retain: 2, attributes: clone(pick(ATTRS)) }] })
  }
  return ops
}

const randomCase = (seed, ndocs, nops) => {
  const r = rng(seed)
  const docs = []
  for (let i = 0; i < ndocs; i++) docs.push({ client: 100 + i * 7 + (seed % 5) })
  // Yjs is run as we go to know each doc's current length.
  const ydocs = docs.map((d) => { const doc = new Y.Doc(); doc.clientID = d.client; return doc })
  const ops = []
  if (seed % 3 === 0) {
    // Observers read event.delta, which deletes redundant formats in Yjs.
    for (let d = 0; d < ndocs; d++) {
      ops.push({ op: 'observe', d, t: T })
      ydocs[d].getText('t').observe((e) => e.delta)
    }
  }
  for (let n = 0; n < nops; n++) {
    if (ndocs > 1 && r() < 0.2) {
      const from = Math.floor(r() * ndocs); let to = Math.floor(r() * (ndocs - 1)); if (to >= from) to++
      const op = { op: 'sync', from, to, v2: r() < 0.3 }
      Y.applyUpdate(ydocs[to], Y.encodeStateAsUpdate(ydocs[from], Y.encodeStateVector(ydocs[to])))
      ops.push(op)
      continue
    }
    const d = Math.floor(r() * ndocs)
    const text = ydocs[d].getText('t')
    const group = r() < 0.1 ? 2 + Math.floor(r() * 2) : 1
    const tops = []
    ydocs[d].transact(() => {
      for (let g = 0; g < group; g++) {
        for (const o of randomText(r, { len: text.length })) {
          o.d = d
          const c = clone(o)
          switch (o.op) {
            case 'insert': text.insert(c.i, c.s, c.a); break
            case 'delete': text.delete(c.i, c.n); break
            case 'format': text.format(c.i, c.n, c.a); break
            case 'embed': text.insertEmbed(c.i, c.e, c.a); break
            case 'applyDelta': text.applyDelta(c.delta); break
          }
          tops.push(o)
        }
      }
    })
    ops.push(...(tops.length === 1 ? tops : [{ op: 'transact', d, ops: tops }]))
  }
  for (let i = 0; i < ndocs; i++) {
    for (let j = 0; j < ndocs; j++) if (i !== j) ops.push({ op: 'sync', from: i, to: j })
  }
  for (let i = 0; i < ndocs; i++) ops.push({ op: 'check', d: i, t: T })
  return { name: `random_${seed}`, docs, ops }
}

for (let seed = 1; seed <= 120; seed++) cases.push(randomCase(seed, 1 + (seed % 3), 25 + (seed % 4) * 12))

// Random XML editing: elements, text nodes with formatting, attributes, deletes.
const randomXml = (seed, ndocs, nops) => {
  const r = rng(seed * 7919)
  const pick = (a) => a[Math.floor(r() * a.length)]
  const docs = []
  for (let i = 0; i < ndocs; i++) docs.push({ client: 300 + i * 11 + seed })
  const ydocs = docs.map((d) => { const doc = new Y.Doc(); doc.clientID = d.client; return doc })
  const ops = []
  for (let n = 0; n < nops; n++) {
    if (ndocs > 1 && r() < 0.2) {
      const from = Math.floor(r() * ndocs); let to = Math.floor(r() * (ndocs - 1)); if (to >= from) to++
      Y.applyUpdate(ydocs[to], Y.encodeStateAsUpdate(ydocs[from], Y.encodeStateVector(ydocs[to])))
      ops.push({ op: 'sync', from, to })
      continue
    }
    const d = Math.floor(r() * ndocs)
    const frag = ydocs[d].getXmlFragment('x')
    const k = r()
    let op
    const len = frag.length
    if (k < 0.3 || len === 0) {
      const nodes = r() < 0.5
        ? [{ el: pick(['p', 'h1', 'Div', 'span']), attrs: r() < 0.5 ? { id: String(n), class: pick(['a', 'b']) } : {}, children: r() < 0.5 ? [{ text: pick(['x', 'hello', '😀y']) }] : [] }]
        : [{ text: pick(['abc', 'de', 'Ω']) }]
      op = { op: 'xmlInsert', d, t: ['x', 'xml'], i: Math.floor(r() * (len + 1)), nodes }
    } else {
      const i = Math.floor(r() * len)
      const child = frag.get(i)
      if (k < 0.4) {
        op = { op: 'delete', d, t: ['x', 'xml'], i, n: 1 }
      } else if (child instanceof Y.XmlText) {
        const tl = child.length
        const kk = r()
        if (kk < 0.5 || tl === 0) op = { op: 'insert', d, t: ['x', 'xml', i], i: Math.floor(r() * (tl + 1)), s: pick(['q', 'rs', 'é']), a: r() < 0.4 ? clone(pick(ATTRS)) : undefined }
        else if (kk < 0.75) op = { op: 'format', d, t: ['x', 'xml', i], i: Math.floor(r() * tl), n: 1 + Math.floor(r() * 3), a: clone(pick([{ b: true }, { em: { class: 'z' } }, { b: null }, { a: { href: 'u', t: 1 } }])) }
        else { const j = Math.floor(r() * tl); op = { op: 'delete', d, t: ['x', 'xml', i], i: j, n: Math.min(2, tl - j) } }
      } else if (child instanceof Y.XmlElement) {
        if (r() < 0.6) op = { op: 'setAttribute', d, t: ['x', 'xml', i], k: pick(['id', 'class', 'style', 'data-x']), v: pick(['1', 'two', 'a b']) }
        else if (r() < 0.5) op = { op: 'removeAttribute', d, t: ['x', 'xml', i], k: pick(['id', 'class']) }
        else op = { op: 'xmlInsert', d, t: ['x', 'xml', i], i: Math.floor(r() * (child.length + 1)), nodes: [{ text: 'in' }] }
      } else {
        op = { op: 'delete', d, t: ['x', 'xml'], i, n: 1 }
      }
    }
    if (op.a === undefined) delete op.a
    // run it in the shadow docs so later choices see the right lengths
    const c = clone(op)
    const y = (() => { let t = ydocs[d].getXmlFragment('x'); for (let q = 2; q < c.t.length; q++) t = t.get(c.t[q]); return t })()
    switch (c.op) {
      case 'xmlInsert': y.insert(c.i, c.nodes.map(makeNode)); break
      case 'delete': y.delete(c.i, c.n); break
      case 'insert': y.insert(c.i, c.s, c.a); break
      case 'format': y.format(c.i, c.n, c.a); break
      case 'setAttribute': y.setAttribute(c.k, c.v); break
      case 'removeAttribute': y.removeAttribute(c.k); break
    }
    ops.push(op)
  }
  for (let i = 0; i < ndocs; i++) for (let j = 0; j < ndocs; j++) if (i !== j) ops.push({ op: 'sync', from: i, to: j })
  for (let i = 0; i < ndocs; i++) ops.push({ op: 'check', d: i, t: ['x', 'xml'] })
  return { name: `xml_random_${seed}`, docs, ops }
}
for (let seed = 1; seed <= 30; seed++) cases.push(randomXml(seed, 1 + (seed % 3), 30 + (seed % 3) * 10))

// Typing with local edits, as a trace does: exercises the search markers
// (their placement decides origins, hence the bytes).
{
  const r = rng(4242)
  const ops = []
  let len = 0
  let cursor = 0
  for (let n = 0; n < 3000; n++) {
    if (r() < 0.05) cursor = Math.floor(r() * (len + 1))
    if (r() < 0.75 || len === 0) {
      const s = r() < 0.03 ? '😀' : String.fromCharCode(97 + Math.floor(r() * 26))
      ops.push({ op: 'insert', d: 0, t: T, i: cursor, s })
      cursor += s.length; len += s.length
    } else {
      const k = Math.min(cursor, 1 + Math.floor(r() * 2))
      if (k === 0) continue
      ops.push({ op: 'delete', d: 0, t: T, i: cursor - k, n: k })
      cursor -= k; len -= k
    }
  }
  ops.push({ op: 'check', d: 0, t: T })
  cases.push({ name: 'typing_trace', docs: [{ client: 77 }], ops, log: false })
}

console.log('// Generated by crdt/test/vectors/make_text_vectors.mjs with yjs ' + '13.6.33; do not edit.')
for (const c of cases) {
  const text = JSON.stringify(runCase(c))
  if (text.includes(')json"')) throw new Error('delimiter clash')
  console.log('R"json(' + text + ')json",')
}
