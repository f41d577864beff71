// Shared by gen.mjs, bigmerge.mjs and ../golden/make_golden.mjs: a seeded Yjs, a PRNG, byte and JSON
// helpers in the scenario format's conventions (../README.md).
import { webcrypto } from 'node:crypto'

// Yjs draws client ids and guids from crypto.getRandomValues (lib0 binds it at
// import). A seeded fill makes every run reproducible and is much faster.
let fillState = 1
export const reseedFill = s => { fillState = (s >>> 0) || 1 }
webcrypto.getRandomValues = arr => {
  const u8 = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)
  for (let i = 0; i < u8.length; i++) {
    fillState ^= fillState << 13; fillState ^= fillState >>> 17; fillState ^= fillState << 5
    u8[i] = fillState & 0xff
  }
  return arr
}
export const Y = await import('yjs')

// mulberry32: small, fast, and reproducible across Node versions.
export class Rng {
  constructor (seed) { this.a = (seed ^ 0x9e3779b9) >>> 0; for (let i = 0; i < 4; i++) this.next() }
  next () {
    let a = (this.a = (this.a + 0x6d2b79f5) | 0)
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int (lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)) } // inclusive
  bool (p = 0.5) { return this.next() < p }
  pick (arr) { return arr[Math.floor(this.next() * arr.length)] }
  uint32 () { return Math.floor(this.next() * 4294967296) >>> 0 }
  shuffle (arr) {
    for (let i = arr.length - 1; i > 0; i--) { const j = Math.floor(this.next() * (i + 1)); const t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return arr
  }
  weighted (pairs) { // [[weight, value], ...]
    let total = 0
    for (const [w] of pairs) total += w
    let r = this.next() * total
    for (const [w, v] of pairs) { if ((r -= w) < 0) return v }
    return pairs[pairs.length - 1][1]
  }
}

export const b64 = u => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64')

// JSON.stringify, plus our conventions: Uint8Array -> {"$bytes":"<base64>"},
// bigint -> its decimal digits, a subdocument -> its Doc.toJSON() (what
// JSON.stringify does: {} while not loaded), shared types -> their toJSON().
export const stringify = v => {
  switch (typeof v) {
    case 'string': return JSON.stringify(v)
    case 'number': return JSON.stringify(v) // NaN/Infinity -> null, -0 -> 0
    case 'boolean': return v ? 'true' : 'false'
    case 'bigint': return v.toString()
    case 'undefined': return undefined
    case 'object': {
      if (v === null) return 'null'
      if (v instanceof Uint8Array) return `{"$bytes":${JSON.stringify(b64(v))}}`
      if (v instanceof Y.AbstractType || v instanceof Y.Doc) return stringify(v.toJSON())
      if (Array.isArray(v)) return '[' + v.map(x => { const s = stringify(x); return s === undefined ? 'null' : s }).join(',') + ']'
      const parts = []
      for (const k of Object.keys(v)) {
        const s = stringify(v[k])
        if (s !== undefined) parts.push(JSON.stringify(k) + ':' + s)
      }
      return '{' + parts.join(',') + '}'
    }
    default: throw new Error(`cannot stringify ${typeof v}`)
  }
}

export const getRoot = (doc, name, kind) => {
  switch (kind) {
    case 'text': return doc.getText(name)
    case 'array': return doc.getArray(name)
    case 'map': return doc.getMap(name)
    case 'xml': return doc.getXmlFragment(name)
  }
  throw new Error(`unknown root kind ${kind}`)
}

// A checkpoint record ("t":"c"), as one JSON line. Built as text: JSON.parse
// would round bigints.
export const checkpointLine = (doc, specs, n, final, svs) => {
  const json = []
  const delta = []
  for (const [name, kind] of specs) {
    const t = getRoot(doc, name, kind)
    json.push(JSON.stringify(name) + ':' + stringify(t.toJSON()))
    if (kind === 'text') delta.push(JSON.stringify(name) + ':' + stringify(t.toDelta()))
  }
  const diffs = svs.map(sv => ({ sv: b64(sv), u1: b64(Y.encodeStateAsUpdate(doc, sv)), u2: b64(Y.encodeStateAsUpdateV2(doc, sv)) }))
  const rest = JSON.stringify({
    sv: b64(Y.encodeStateVector(doc)),
    s1: b64(Y.encodeStateAsUpdate(doc)),
    s2: b64(Y.encodeStateAsUpdateV2(doc)),
    diffs
  })
  return `{"t":"c","n":${n},"final":${final},"json":{${json.join(',')}},"delta":{${delta.join(',')}},${rest.slice(1)}\n`
}

const sortedEntries = m => Array.from(m.entries()).sort((a, b) => a[0] - b[0])

// Doc-less records for one input update u of format v (1 or 2); inRef is
// {in: logIndex} or {u: base64}.
export const doclessLines = (v, u, inRef, svs) => {
  const out = []
  for (const sv of svs) {
    const d = v === 1 ? Y.diffUpdate(u, sv) : Y.diffUpdateV2(u, sv)
    out.push(JSON.stringify({ t: 'd', v, ...inRef, sv: b64(sv), out: b64(d) }))
  }
  out.push(JSON.stringify({ t: 'v', v, ...inRef, out: b64(v === 1 ? Y.encodeStateVectorFromUpdate(u) : Y.encodeStateVectorFromUpdateV2(u)) }))
  const meta = v === 1 ? Y.parseUpdateMeta(u) : Y.parseUpdateMetaV2(u)
  out.push(JSON.stringify({ t: 'p', v, ...inRef, from: sortedEntries(meta.from), to: sortedEntries(meta.to) }))
  out.push(JSON.stringify({ t: 'x', v, ...inRef, out: b64(v === 1 ? Y.convertUpdateFormatV1ToV2(u) : Y.convertUpdateFormatV2ToV1(u)) }))
  return out.map(l => l + '\n')
}

// A merge record ("t":"m"): Yjs's merge of the inputs, and the state of a fresh
// doc (gc as given) after applying it.
export const mergeLine = (v, idx, inputs, gc, withSame, extra = {}) => {
  const stateOf = updates => {
    const d = new Y.Doc({ gc, guid: 'm' })
    for (const u of updates) v === 1 ? Y.applyUpdate(d, u) : Y.applyUpdateV2(d, u)
    return v === 1 ? Y.encodeStateAsUpdate(d) : Y.encodeStateAsUpdateV2(d)
  }
  const merged = v === 1 ? Y.mergeUpdates(inputs) : Y.mergeUpdatesV2(inputs)
  const s = stateOf([merged])
  const rec = { t: 'm', v, ...extra, in: idx, out: b64(merged), state: b64(s) }
  // Informative (Yjs about itself): does the merge apply like its inputs?
  if (withSame) rec.same = Buffer.compare(s, stateOf(inputs)) === 0
  return { line: JSON.stringify(rec) + '\n', merged }
}
