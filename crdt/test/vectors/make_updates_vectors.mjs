// Generates crdt/test/vectors/updates_vectors.inc: outputs of Yjs's updates.js
// (mergeUpdates, diffUpdate, encodeStateVectorFromUpdate, parseUpdateMeta,
// convertUpdateFormat, decodeUpdate) on updates recorded from real Yjs documents.
// Run from /work/main:  node crdt/test/vectors/make_updates_vectors.mjs
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const hex = (u) => Buffer.from(u).toString('hex')
const cases = []

// A scenario: docs with fixed client ids; every transaction's update is recorded
// in both formats, in order.
const makeDoc = (clientID, gc = true) => {
  const doc = new Y.Doc({ gc })
  doc.clientID = clientID
  const rec = { doc, v1: [], v2: [] }
  doc.on('update', (u) => rec.v1.push(u))
  doc.on('updateV2', (u) => rec.v2.push(u))
  return rec
}

const sync = (a, b) => {
  Y.applyUpdate(b.doc, Y.encodeStateAsUpdate(a.doc, Y.encodeStateVector(b.doc)))
  Y.applyUpdate(a.doc, Y.encodeStateAsUpdate(b.doc, Y.encodeStateVector(a.doc)))
}

// The per-version Yjs functions.
const fns = {
  1: {
    merge: Y.mergeUpdates,
    diff: Y.diffUpdate,
    sv: Y.encodeStateVectorFromUpdate,
    meta: Y.parseUpdateMeta,
    decode: Y.decodeUpdate,
    state: (doc, sv) => Y.encodeStateAsUpdate(doc, sv)
  },
  2: {
    merge: Y.mergeUpdatesV2,
    diff: Y.diffUpdateV2,
    sv: Y.encodeStateVectorFromUpdateV2,
    meta: Y.parseUpdateMetaV2,
    decode: Y.decodeUpdateV2,
    state: (doc, sv) => Y.encodeStateAsUpdateV2(doc, sv)
  }
}

const metaText = ({ from, to }) => {
  const f = (m) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([c, k]) => `${c}:${k}`).join(',')
  return `from=${f(from)};to=${f(to)}`
}

// Structs as "<kind><client>:<clock>+<len>" and the delete set by ascending client.
const inspectText = ({ structs, ds }) => {
  const s = structs.map((st) => {
    const kind = st.constructor === Y.Item ? 'I' : st.constructor === Y.GC ? 'G' : 'S'
    return `${kind}${st.id.client}:${st.id.clock}+${st.length}`
  }).join(' ')
  const d = [...ds.clients.entries()].sort((a, b) => a[0] - b[0]).map(([c, dels]) =>
    `${c}:` + dels.map((x) => `${x.clock}+${x.len}`).join(',')).join(' ')
  return `${s}|${d}`
}

const add = (name, op, version, inputs, sv, expected) => {
  cases.push({ name, op, version, inputs: inputs.map(hex), sv: sv ? hex(sv) : '', expected })
}

// Runs every operation on a set of updates of one version.
const allOps = (name, v, updates, svs) => {
  const F = fns[v]
  const tag = `${name}/v${v}`
  add(`${tag}/merge`, 'kMerge', v, updates, null, hex(F.merge(updates)))
  const merged = F.merge(updates)
  add(`${tag}/sv_of_merged`, 'kStateVector', v, [merged], null, hex(F.sv(merged)))
  add(`${tag}/meta_of_merged`, 'kMeta', v, [merged], null, metaText(F.meta(merged)))
  add(`${tag}/inspect_merged`, 'kInspect', v, [merged], null, inspectText(F.decode(merged)))
  updates.forEach((u, i) => {
    add(`${tag}/sv_${i}`, 'kStateVector', v, [u], null, hex(F.sv(u)))
    add(`${tag}/meta_${i}`, 'kMeta', v, [u], null, metaText(F.meta(u)))
    add(`${tag}/inspect_${i}`, 'kInspect', v, [u], null, inspectText(F.decode(u)))
    if (v === 1) {
      add(`${tag}/to_v2_${i}`, 'kConvertV1ToV2', 1, [u], null, hex(Y.convertUpdateFormatV1ToV2(u)))
    } else {
      add(`${tag}/to_v1_${i}`, 'kConvertV2ToV1', 2, [u], null, hex(Y.convertUpdateFormatV2ToV1(u)))
    }
  })
  svs.forEach((sv, i) => {
    add(`${tag}/diff_merged_${i}`, 'kDiff', v, [merged], sv, hex(F.diff(merged, sv)))
    if (updates.length > 0) {
      const last = updates[updates.length - 1]
      add(`${tag}/diff_last_${i}`, 'kDiff', v, [last], sv, hex(F.diff(last, sv)))
    }
  })
}

const scenario = (name, build) => {
  const { recs, extra = [] } = build()
  for (const v of [1, 2]) {
    const all = recs.flatMap((r) => (v === 1 ? r.v1 : r.v2))
    const svs = [new Uint8Array([0]), ...recs.map((r) => Y.encodeStateVector(r.doc))]
    // Every recorded update, in recording order.
    allOps(`${name}/all`, v, all, svs)
    // Whole states, which have merged and gc'ed structs, together with raw updates.
    const states = recs.map((r) => fns[v].state(r.doc))
    allOps(`${name}/states_and_updates`, v, [...states, ...all.slice(0, 3)], svs)
    // Updates from the middle of the history: Skips appear.
    if (all.length > 3) {
      const mid = all.filter((_, i) => i % 2 === 1)
      allOps(`${name}/gaps`, v, mid, svs)
      allOps(`${name}/reversed_dups`, v, [...all].reverse().concat(all.slice(0, 2)), [])
    }
    // Diff against partial state vectors.
    const merged = fns[v].merge(all)
    for (const r of recs) {
      const svMap = Y.decodeStateVector(Y.encodeStateVector(r.doc))
      const half = new Map([...svMap.entries()].map(([c, k]) => [c, Math.floor(k / 2)]))
      const enc = encoding.createEncoder()
      encoding.writeVarUint(enc, half.size)
      for (const [c, k] of half) { encoding.writeVarUint(enc, c); encoding.writeVarUint(enc, k) }
      const sv = encoding.toUint8Array(enc)
      add(`${name}/v${v}/diff_half_${r.doc.clientID}`, 'kDiff', v, [merged], sv, hex(fns[v].diff(merged, sv)))
    }
    for (const [n, ups] of extra) {
      const us = v === 1 ? ups : ups.map(Y.convertUpdateFormatV1ToV2)
      allOps(`${name}/${n}`, v, us, svs)
    }
  }
}

scenario('text_formats', () => {
  const a = makeDoc(1)
  const b = makeDoc(2)
  a.doc.getText('t').insert(0, 'hello world')
  a.doc.getText('t').format(0, 5, { bold: true })
  sync(a, b)
  b.doc.getText('t').insert(5, ' big', { italic: true, color: '#f00' })
  a.doc.getText('t').insertEmbed(0, { image: 'x.png' })
  a.doc.getText('t').delete(7, 3)
  b.doc.getText('t').insert(0, 'émoji 😀 ')
  sync(a, b)
  a.doc.getText('t').format(2, 6, { bold: null })
  return { recs: [a, b] }
})

scenario('maps_arrays', () => {
  const a = makeDoc(7)
  const b = makeDoc(4294967295)
  const m = a.doc.getMap('m')
  m.set('num', 42)
  m.set('float', 1.5)
  m.set('big', 2 ** 40)
  m.set('str', 'value')
  m.set('obj', { x: [1, 2, { y: null }], z: true })
  m.set('bin', new Uint8Array([1, 2, 3]))
  m.set('neg', -7)
  const arr = a.doc.getArray('arr')
  arr.insert(0, [1, 2, 3, 'four', { five: 5 }])
  arr.push([false, null])
  sync(a, b)
  b.doc.getArray('arr').delete(1, 3)
  b.doc.getMap('m').set('num', 43)
  b.doc.getMap('m').delete('str')
  arr.insert(2, ['x', 'y'])
  m.set('float', 2.25)
  sync(a, b)
  return { recs: [a, b] }
})

scenario('nested', () => {
  const a = makeDoc(11)
  const b = makeDoc(3, false)
  const root = a.doc.getArray('root')
  const inner = new Y.Map()
  root.insert(0, [inner])
  inner.set('text', new Y.Text('nested text'))
  inner.set('list', Y.Array.from([1, 2, 3]))
  const frag = a.doc.getXmlFragment('xml')
  const el = new Y.XmlElement('p')
  frag.insert(0, [el])
  el.setAttribute('class', 'c1')
  el.insert(0, [new Y.XmlText('para')])
  frag.insert(1, [new Y.XmlHook('hook')])
  const sub = new Y.Doc({ guid: 'sub-guid', meta: { k: 'v' } })
  a.doc.getMap('subdocs').set('s', sub)
  sync(a, b)
  b.doc.getArray('root').get(0).get('text').insert(3, 'XYZ')
  b.doc.getArray('root').get(0).delete('list')
  b.doc.getXmlFragment('xml').delete(0, 1)
  sync(a, b)
  root.delete(0, 1)
  return { recs: [a, b] }
})

scenario('deletes_gc', () => {
  const a = makeDoc(21)
  const b = makeDoc(22, false)
  const t = a.doc.getText('t')
  for (let i = 0; i < 8; i++) t.insert(t.length, `chunk${i} `)
  t.delete(3, 20)
  sync(a, b)
  b.doc.getText('t').delete(0, 2)
  b.doc.getText('t').insert(1, 'Q')
  t.delete(10, 5)
  sync(a, b)
  return { recs: [a, b] }
})

// Surrogate pairs: a split inside a pair turns both halves into U+FFFD.
scenario('surrogates', () => {
  const a = makeDoc(31)
  a.doc.getText('t').insert(0, 'x😀y')
  a.doc.getText('t').insert(2, 'Z')
  const c = makeDoc(31)
  c.doc.getText('t').insert(0, 'ab')
  return { recs: [a], extra: [['split_pair', [c.v1[0], a.v1[0]]], ['split_pair_rev', [a.v1[0], c.v1[0]]]] }
})

// ContentJSON is only produced by old Yjs versions: build it by hand.
{
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 1) // clients
  encoding.writeVarUint(enc, 2) // structs
  encoding.writeVarUint(enc, 5) // client
  encoding.writeVarUint(enc, 0) // clock
  encoding.writeUint8(enc, 2) // ContentJSON, parent follows
  encoding.writeVarUint(enc, 1) // parent is a root key
  encoding.writeVarString(enc, 'arr')
  encoding.writeVarUint(enc, 3)
  encoding.writeVarString(enc, '{"a":1}')
  encoding.writeVarString(enc, 'undefined')
  encoding.writeVarString(enc, '[1,"two",null]')
  encoding.writeUint8(enc, 2 | 128) // ContentJSON with origin
  encoding.writeVarUint(enc, 5)
  encoding.writeVarUint(enc, 2)
  encoding.writeVarUint(enc, 1)
  encoding.writeVarString(enc, '3.5')
  encoding.writeVarUint(enc, 1) // delete set: one client
  encoding.writeVarUint(enc, 5)
  encoding.writeVarUint(enc, 1)
  encoding.writeVarUint(enc, 1)
  encoding.writeVarUint(enc, 1)
  const u = encoding.toUint8Array(enc)
  const u2 = Y.convertUpdateFormatV1ToV2(u)
  allOps('content_json', 1, [u], [new Uint8Array([1, 5, 2])])
  allOps('content_json', 2, [u2], [new Uint8Array([1, 5, 2])])
}

// Seeded random editing of three docs, with updates merged in shuffled order,
// with duplicates and gaps.
{
  let seed = 12345
  const rand = () => {
    seed = (seed + 0x6D2B79F5) | 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(rand() * n)
  for (let round = 0; round < 6; round++) {
    const recs = [makeDoc(100 + round), makeDoc(200 + round, round % 2 === 0), makeDoc(300000 + round)]
    for (let step = 0; step < 40; step++) {
      const r = recs[int(recs.length)]
      const t = r.doc.getText('text')
      const arr = r.doc.getArray('arr')
      const map = r.doc.getMap('map')
      switch (int(7)) {
        case 0: t.insert(int(t.length + 1), 'abcdefg'.slice(0, 1 + int(6))); break
        case 1: if (t.length > 0) { const p = int(t.length); t.delete(p, Math.min(1 + int(4), t.length - p)) } break
        case 2: if (t.length > 1) t.format(int(t.length - 1), 1 + int(2), { b: int(2) === 0 ? true : null }); break
        case 3: arr.insert(int(arr.length + 1), [int(100), 'v' + int(10)]); break
        case 4: if (arr.length > 0) arr.delete(int(arr.length), 1); break
        case 5: map.set('k' + int(4), int(3) === 0 ? { n: int(9) } : int(1000)); break
        case 6: { const a = recs[int(3)]; const b = recs[int(3)]; if (a !== b) sync(a, b) }
      }
    }
    for (const v of [1, 2]) {
      const all = recs.flatMap((r) => (v === 1 ? r.v1 : r.v2))
      const shuffled = [...all]
      for (let i = shuffled.length - 1; i > 0; i--) { const j = int(i + 1); [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]] }
      const picked = shuffled.filter(() => rand() < 0.6)
      picked.push(...shuffled.slice(0, 3)) // duplicates
      const svs = [new Uint8Array([0]), ...recs.map((r) => Y.encodeStateVector(r.doc))]
      const F = fns[v]
      const tag = `random${round}/v${v}`
      add(`${tag}/merge_all`, 'kMerge', v, shuffled, null, hex(F.merge(shuffled)))
      add(`${tag}/merge_picked`, 'kMerge', v, picked, null, hex(F.merge(picked)))
      const m = F.merge(picked)
      add(`${tag}/sv_picked`, 'kStateVector', v, [m], null, hex(F.sv(m)))
      add(`${tag}/meta_picked`, 'kMeta', v, [m], null, metaText(F.meta(m)))
      svs.forEach((sv, i) => add(`${tag}/diff_picked_${i}`, 'kDiff', v, [m], sv, hex(F.diff(m, sv))))
      const states = recs.map((r) => F.state(r.doc))
      add(`${tag}/merge_states`, 'kMerge', v, [...states, ...picked.slice(0, 5)], null,
        hex(F.merge([...states, ...picked.slice(0, 5)])))
    }
  }
}

const quote = (s) => JSON.stringify(s)
const lines = [
  '// Generated by crdt/test/vectors/make_updates_vectors.mjs (node, from /work/main); do not edit.',
  `// yjs ${JSON.parse((await import('node:fs')).readFileSync('node_modules/yjs/package.json')).version}; ${cases.length} cases.`
]
for (const c of cases) {
  lines.push(`{${quote(c.name)}, UpdatesOp::${c.op}, ${c.version}, {${c.inputs.map(quote).join(', ')}}, ${quote(c.sv)}, ${quote(c.expected)}},`)
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'updates_vectors.inc')
writeFileSync(out, lines.join('\n') + '\n')
console.log(`wrote ${cases.length} cases to ${out}`)

// Seed corpus for tests/fuzz/fuzz_merge_updates.cpp: byte 0 = (count - 1) |
// (v2 << 2), then (count - 1) 16-bit little-endian lengths, then the updates.
{
  const { mkdirSync, readdirSync, unlinkSync } = await import('node:fs')
  const dir = join(dirname(fileURLToPath(import.meta.url)), '../../../tests/fuzz/corpus/fuzz_merge_updates')
  mkdirSync(dir, { recursive: true })
  for (const f of readdirSync(dir)) if (f.startsWith('seed_')) unlinkSync(join(dir, f))
  const picked = cases.filter((c) => c.op === 'kMerge' && c.inputs.length >= 2 && c.inputs.every((h) => h.length <= 1200))
  let n = 0
  for (const c of picked.filter((_, i) => i % 3 === 0).slice(0, 40)) {
    const ups = c.inputs.slice(0, 4).map((h) => Buffer.from(h, 'hex'))
    const head = [(ups.length - 1) | (c.version === 2 ? 4 : 0)]
    for (const u of ups.slice(0, -1)) head.push(u.length & 255, u.length >> 8)
    writeFileSync(join(dir, `seed_${String(n++).padStart(2, '0')}_v${c.version}`), Buffer.concat([Buffer.from(head), ...ups]))
  }
  console.log(`wrote ${n} fuzz seeds to ${dir}`)
}
