#!/usr/bin/env node
// Seeded scenario generator for the conformance suite: real Yjs documents edit
// every shared type concurrently over a misbehaving network; one observer doc's
// delivery log and the expected results are written as JSON lines (format in
// ../README.md). Run from /work/main (or anywhere below it) so `yjs` resolves.
//
//   node tests/conformance/node/gen.mjs --seed 42
//   node tests/conformance/node/gen.mjs --start 1 --count 2000 [--types=array,map] [--gc=on|off] [--long]
//   node tests/conformance/node/gen.mjs --seed 42 --out /tmp/s42.jsonl
//   node tests/conformance/node/gen.mjs --count 100 --corpus /tmp/corpus >/dev/null   (fuzz seeds)
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import { Y, Rng, b64, reseedFill, getRoot, checkpointLine, doclessLines, mergeLine } from './common.mjs'

// ---------------------------------------------------------------- options

const kAllFeatures = ['text', 'format', 'embed', 'delta', 'array', 'map', 'nested', 'xml', 'xmlhook',
  'subdoc', 'bytes', 'bigint', 'special', 'undefined', 'merge', 'docless', 'snapshot']

const parseArgs = argv => {
  const o = { seed: null, start: 1, count: 1, types: kAllFeatures.slice(), gc: 'random', long: false, out: null, corpus: null }
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let v = null
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq) }
    const val = () => (v !== null ? v : argv[++i])
    switch (a) {
      case '--seed': o.seed = Number(val()); break
      case '--start': o.start = Number(val()); break
      case '--count': o.count = Number(val()); break
      case '--types': {
        const t = val()
        o.types = t === 'all' ? kAllFeatures.slice() : t.split(',').filter(s => s.length > 0)
        for (const x of o.types) if (!kAllFeatures.includes(x)) throw new Error(`unknown type/feature ${x}; known: ${kAllFeatures.join(',')}`)
        break
      }
      case '--no': {
        const drop = val().split(',')
        o.types = o.types.filter(x => !drop.includes(x))
        break
      }
      case '--gc': o.gc = val(); break
      case '--long': o.long = true; break
      case '--out': o.out = val(); break
      case '--corpus': o.corpus = val(); break
      case '--help':
        process.stdout.write('gen.mjs [--seed S | --start S --count N] [--types=a,b|all] [--no=a,b] [--gc=on|off|random] [--long] [--out FILE] [--corpus DIR]\n' +
          '--corpus DIR also writes every update fed to the observer to DIR/v1/ and DIR/v2/ (one file each, named by hash: a fuzz seed corpus)\n' +
          `features: ${kAllFeatures.join(',')}\n`)
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${a}`)
    }
  }
  if (o.seed !== null) { o.start = o.seed; o.count = 1 }
  return o
}

// ---------------------------------------------------------------- value generators

const kChars = ['a', 'b', 'c', 'd', 'x', 'y', 'z', ' ', '\n', 'é', 'ß', '中', '文', '😀', '👍🏽', '🏳️‍🌈', '\u0000', '"', '\\', '<']
const kKeys = ['a', 'b', 'c', 'd', 'e', '0', '1', '10', 'key with space', 'ü', '']
const kAttrNames = ['bold', 'italic', 'color', 'size', 'link']
const kNodeNames = ['p', 'div', 'span', 'h1', 'my-el']
const kHookNames = ['hook', 'widget']

class Gen {
  constructor (rng, feat, long) {
    this.r = rng
    this.f = feat
    this.long = long
    this.guidCounter = 0
  }

  has (x) { return this.f.has(x) }

  string (maxLen = 6) {
    const n = this.r.int(0, maxLen)
    let s = ''
    for (let i = 0; i < n; i++) s += this.r.pick(kChars)
    return s
  }

  nonEmptyString (maxLen = 6) {
    const s = this.string(maxLen)
    return s.length === 0 ? this.r.pick(kChars) : s
  }

  number () {
    const r = this.r
    return r.weighted([
      [6, () => r.int(-100, 100)],
      [2, () => r.int(-2147483648, 2147483647)],
      [2, () => r.pick([2147483647, -2147483647, 2147483648, -2147483649, 4294967295, 2 ** 40, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 1e300])],
      [3, () => r.pick([0.5, -1.25, 0.1, 1 / 3, 3.14159, 1e-7, -2.5e-300, 65504.5, 1.5e10])],
      [2, () => (r.next() - 0.5) * 1000],
      [this.has('special') ? 1 : 0, () => r.pick([-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE])]
    ])()
  }

  // A lib0 "Any" value. Y.Array.insert refuses undefined and bigint as
  // top-level elements (Y.Map.set takes them): pass inArray.
  any (depth = 0, inArray = false) {
    const r = this.r
    const choices = [
      [5, () => this.number()],
      [4, () => this.string(5)],
      [2, () => r.bool()],
      [1, () => null],
      [this.has('undefined') && !inArray ? 0.5 : 0, () => undefined],
      [this.has('bigint') && !inArray ? 0.7 : 0, () => r.pick([0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(r.int(-1e6, 1e6)) * 1000003n])],
      [this.has('bytes') ? 1 : 0, () => this.bytes()],
      [depth < 3 ? 1.5 : 0, () => { const o = {}; const n = r.int(0, 3); for (let i = 0; i < n; i++) o[r.pick(kKeys)] = this.any(depth + 1); return o }],
      [depth < 3 ? 1.5 : 0, () => { const a = []; const n = r.int(0, 3); for (let i = 0; i < n; i++) a.push(this.any(depth + 1)); return a }]
    ]
    return r.weighted(choices)()
  }

  // Embeds and format values are JSON text in format v1 (JSON.stringify) but
  // lib0 Any in v2: only values both round-trip identically.
  jsonValue (depth = 0) {
    const r = this.r
    return r.weighted([
      [5, () => r.weighted([[3, () => r.int(-100, 100)], [1, () => r.pick([0.5, -1.25, 1e21, 2 ** 40])]])()],
      [4, () => this.string(5)],
      [2, () => r.bool()],
      [1, () => null],
      [depth < 2 ? 1.5 : 0, () => { const o = {}; const n = r.int(0, 3); for (let i = 0; i < n; i++) o[r.pick(kKeys)] = this.jsonValue(depth + 1); return o }],
      [depth < 2 ? 1.5 : 0, () => { const a = []; const n = r.int(0, 3); for (let i = 0; i < n; i++) a.push(this.jsonValue(depth + 1)); return a }]
    ])()
  }

  bytes () {
    const n = this.r.int(0, 6)
    const u = new Uint8Array(n)
    for (let i = 0; i < n; i++) u[i] = this.r.int(0, 255)
    return u
  }

  attrs (forInsert) {
    const r = this.r
    const o = {}
    const n = r.int(1, 2)
    for (let i = 0; i < n; i++) {
      const k = r.pick(kAttrNames)
      const remove = !forInsert && r.bool(0.3)
      switch (k) {
        case 'bold': case 'italic': o[k] = remove ? null : true; break
        case 'color': o[k] = remove ? null : r.pick(['red', '#00f', 'green']); break
        case 'size': o[k] = remove ? null : r.pick([10, 12, 14.5]); break
        case 'link': o[k] = remove ? null : { href: r.pick(['https://a.example', 'b']) }; break
      }
    }
    return o
  }

  guid () { return `g${this.r.uint32().toString(16)}-${this.guidCounter++}` }

  subdoc () {
    const r = this.r
    const opts = { guid: this.guid() }
    if (r.bool(0.3)) opts.autoLoad = true
    if (r.bool(0.3)) opts.gc = false
    if (r.bool(0.4)) opts.meta = this.any(1)
    if (r.bool(0.2)) opts.shouldLoad = false
    return new Y.Doc(opts)
  }

  // Prelim (not yet integrated) shared type, with some initial content.
  prelimType (depth) {
    const r = this.r
    const kinds = []
    if (this.has('map')) kinds.push('map')
    if (this.has('array')) kinds.push('array')
    if (this.has('text')) kinds.push('text')
    if (kinds.length === 0) return this.any(depth)
    switch (r.pick(kinds)) {
      case 'map': {
        const m = new Y.Map()
        const n = r.int(0, 2)
        for (let i = 0; i < n; i++) m.set(r.pick(kKeys), this.value(depth + 1))
        return m
      }
      case 'array': {
        const a = new Y.Array()
        const n = r.int(0, 3)
        const vals = []
        for (let i = 0; i < n; i++) vals.push(this.value(depth + 1, true))
        if (vals.length > 0) a.insert(0, vals)
        return a
      }
      default: return new Y.Text(this.string(4))
    }
  }

  // Anything an array or map may hold.
  value (depth = 0, inArray = false) {
    const r = this.r
    return r.weighted([
      [8, () => this.any(depth, inArray)],
      [this.has('bytes') ? 1 : 0, () => this.bytes()],
      [this.has('nested') && depth < 2 ? 2 : 0, () => this.prelimType(depth)],
      [this.has('subdoc') ? 0.7 : 0, () => this.subdoc()]
    ])()
  }

  xmlNode (depth = 0) {
    const r = this.r
    return r.weighted([
      [3, () => {
        const el = new Y.XmlElement(r.pick(kNodeNames))
        const na = r.int(0, 2)
        for (let i = 0; i < na; i++) el.setAttribute(r.pick(['id', 'class', 'href', 'data-x']), this.string(3))
        if (depth < 2) {
          const nc = r.int(0, 2)
          const kids = []
          for (let i = 0; i < nc; i++) kids.push(this.xmlNode(depth + 1))
          if (kids.length > 0) el.insert(0, kids)
        }
        return el
      }],
      [3, () => new Y.XmlText(this.string(4))],
      [this.has('xmlhook') ? 1 : 0, () => {
        const h = new Y.XmlHook(r.pick(kHookNames))
        if (r.bool()) h.set(r.pick(kKeys), this.any(1))
        return h
      }]
    ])()
  }
}

// ---------------------------------------------------------------- edits

const kindOf = t => {
  if (t instanceof Y.XmlHook) return 'hook'
  if (t instanceof Y.XmlText) return 'xmltext'
  if (t instanceof Y.XmlElement) return 'xmlelement'
  if (t instanceof Y.XmlFragment) return 'xmlfragment'
  if (t instanceof Y.Text) return 'text'
  if (t instanceof Y.Array) return 'array'
  if (t instanceof Y.Map) return 'map'
  return null
}

// All shared types reachable from the roots (nested ones included), by kind.
const collectTypes = (roots) => {
  const out = { text: [], array: [], map: [], xmlfragment: [], xmlelement: [], xmltext: [], hook: [] }
  const visit = t => {
    const k = kindOf(t)
    if (k === null) return
    out[k].push(t)
    switch (k) {
      case 'map': case 'hook': for (const v of t.values()) visit(v); break
      case 'array': for (const v of t.toArray()) visit(v); break
      case 'xmlfragment': case 'xmlelement': for (const v of t.toArray()) visit(v); break
      case 'text': for (const d of t.toDelta()) if (d.insert instanceof Y.AbstractType) visit(d.insert); break
    }
  }
  for (const t of roots) visit(t)
  return out
}

const textOp = (g, t, isXml) => {
  const r = g.r
  const len = t.length
  const pos = () => r.int(0, len)
  const op = r.weighted([
    [5, 'insert'],
    [g.has('format') ? 2 : 0, 'insertAttr'],
    [g.has('format') ? 2 : 0, 'format'],
    [len > 0 ? 3 : 0, 'delete'],
    [g.has('embed') && !isXml ? 1 : 0, 'embed'],
    [g.has('delta') ? 1 : 0, 'delta']
  ])
  switch (op) {
    case 'insert': t.insert(pos(), g.nonEmptyString(5)); break
    case 'insertAttr': t.insert(pos(), g.nonEmptyString(5), g.attrs(true)); break
    case 'format': { const p = pos(); t.format(p, r.int(0, len - p), g.attrs(false)); break }
    case 'delete': { const p = r.int(0, len - 1); t.delete(p, r.int(1, Math.min(4, len - p))); break }
    case 'embed': {
      const embed = g.has('nested') && r.bool(0.25) ? g.prelimType(1) : (r.bool(0.5) ? { image: g.string(3) } : { formula: g.jsonValue(1) })
      if (g.has('format') && r.bool(0.3)) t.insertEmbed(pos(), embed, g.attrs(true))
      else t.insertEmbed(pos(), embed)
      break
    }
    case 'delta': {
      const delta = []
      let rest = len
      const n = r.int(1, 3)
      for (let i = 0; i < n; i++) {
        const k = r.int(0, 3)
        if (k === 0 && rest > 0) { const c = r.int(1, rest); rest -= c; delta.push(g.has('format') && r.bool(0.4) ? { retain: c, attributes: g.attrs(false) } : { retain: c }) }
        else if (k === 1 && rest > 0) { const c = r.int(1, Math.min(3, rest)); rest -= c; delta.push({ delete: c }) }
        else delta.push(g.has('format') && r.bool(0.4) ? { insert: g.nonEmptyString(4), attributes: g.attrs(true) } : { insert: g.nonEmptyString(4) })
      }
      t.applyDelta(delta)
      break
    }
  }
}

const arrayOp = (g, a) => {
  const r = g.r
  const len = a.length
  const vals = () => { const n = r.int(1, 3); const v = []; for (let i = 0; i < n; i++) v.push(g.value(1, true)); return v }
  const op = r.weighted([[5, 'insert'], [2, 'push'], [1, 'unshift'], [len > 0 ? 3 : 0, 'delete']])
  switch (op) {
    case 'insert': a.insert(r.int(0, len), vals()); break
    case 'push': a.push(vals()); break
    case 'unshift': a.unshift(vals()); break
    case 'delete': { const p = r.int(0, len - 1); a.delete(p, r.int(1, Math.min(3, len - p))); break }
  }
}

const mapOp = (g, m, valueFn) => {
  const r = g.r
  const keys = Array.from(m.keys())
  if (keys.length > 0 && r.bool(0.25)) m.delete(r.pick(keys))
  else m.set(r.pick(kKeys), valueFn())
}

const xmlOp = (g, x) => {
  const r = g.r
  const len = x.length
  const isEl = x instanceof Y.XmlElement
  const op = r.weighted([[4, 'insert'], [len > 0 ? 2 : 0, 'delete'], [isEl ? 2 : 0, 'setAttr'], [isEl ? 1 : 0, 'removeAttr']])
  switch (op) {
    case 'insert': { const n = r.int(1, 2); const nodes = []; for (let i = 0; i < n; i++) nodes.push(g.xmlNode(1)); x.insert(r.int(0, len), nodes); break }
    case 'delete': { const p = r.int(0, len - 1); x.delete(p, r.int(1, Math.min(2, len - p))); break }
    case 'setAttr': x.setAttribute(r.pick(['id', 'class', 'href', 'data-x']), g.string(3)); break
    case 'removeAttr': x.removeAttribute(r.pick(['id', 'class', 'href', 'data-x'])); break
  }
}

// One random edit somewhere in doc.
const randomEdit = (g, roots) => {
  const r = g.r
  const ts = collectTypes(roots)
  const choices = []
  if (g.has('text') && ts.text.length > 0) choices.push([5, () => textOp(g, r.pick(ts.text), false)])
  if (g.has('array') && ts.array.length > 0) choices.push([4, () => arrayOp(g, r.pick(ts.array))])
  if (g.has('map') && ts.map.length > 0) choices.push([4, () => mapOp(g, r.pick(ts.map), () => g.value(1))])
  if (g.has('xml')) {
    const containers = ts.xmlfragment.concat(ts.xmlelement)
    if (containers.length > 0) choices.push([4, () => xmlOp(g, r.pick(containers))])
    if (ts.xmltext.length > 0) choices.push([2, () => textOp(g, r.pick(ts.xmltext), true)])
    if (ts.hook.length > 0) choices.push([1, () => mapOp(g, r.pick(ts.hook), () => g.any(1))])
  }
  if (choices.length === 0) return
  r.weighted(choices)()
}

// ---------------------------------------------------------------- scenario

const kRemote = Symbol('remote')

const rootSpecs = feat => {
  const roots = []
  if (feat.has('text')) roots.push(['text', 'text'])
  if (feat.has('array')) roots.push(['array', 'array'])
  if (feat.has('map')) roots.push(['map', 'map'])
  if (feat.has('xml')) roots.push(['xml', 'xml'])
  // A subdoc needs a container even when only 'subdoc' was asked for.
  if (feat.has('subdoc') && !feat.has('array') && !feat.has('map')) roots.push(['map', 'map'])
  return roots
}

const svMap = sv => Y.decodeStateVector(sv)

const runScenario = (seed, opts, emit, emitRaw) => {
  const r = new Rng(seed)
  reseedFill(seed * 2654435761)
  const feat = new Set(opts.types)
  const g = new Gen(r, feat, opts.long)
  const gc = opts.gc === 'on' ? true : opts.gc === 'off' ? false : r.bool()
  const nDocs = opts.long ? r.int(3, 5) : r.int(2, 4)
  const rounds = opts.long ? r.int(40, 120) : r.int(3, 10)
  const specs = rootSpecs(feat)

  // Client ids: mostly random uint32 (as Yjs picks them), sometimes small so
  // comparisons between clients are exercised at both ends of the range.
  const ids = new Set()
  const newId = () => {
    for (;;) {
      const id = r.bool(0.2) ? r.int(0, 20) : r.uint32()
      if (!ids.has(id)) { ids.add(id); return id }
    }
  }

  const editors = []
  for (let i = 0; i < nDocs; i++) {
    const doc = new Y.Doc({ gc })
    doc.clientID = newId()
    const roots = specs.map(([name, kind]) => getRoot(doc, name, kind))
    editors.push({ doc, roots, out: [], inbox: [] })
  }
  const observer = new Y.Doc({ gc })
  observer.clientID = newId()
  for (const [name, kind] of specs) getRoot(observer, name, kind)
  const obsInbox = []

  emit({
    t: 's', seed, gc, long: opts.long, types: opts.types, client: observer.clientID,
    cmd: `--seed ${seed} --types=${opts.types.join(',')} --gc=${opts.gc}${opts.long ? ' --long' : ''}`,
    editors: editors.map(e => e.doc.clientID), roots: specs
  })

  const log = [] // what the observer was fed, in order: {u1, u2}
  let deliveries = 0
  let nextCheck = r.int(3, 10)

  const randomSvs = () => {
    const svs = []
    const n = r.int(1, 2)
    for (let i = 0; i < n; i++) {
      const base = r.bool(0.5) ? Y.encodeStateVector(r.pick(editors).doc) : Y.encodeStateVector(observer)
      const m = svMap(base)
      for (const [c, clk] of Array.from(m.entries())) {
        const x = r.next()
        if (x < 0.2) m.delete(c)
        else if (x < 0.5) m.set(c, r.int(0, clk))
        else if (x < 0.55) m.set(c, clk + r.int(1, 5))
      }
      if (r.bool(0.1)) m.set(newId(), r.int(0, 3))
      svs.push(r.bool(0.1) ? new Uint8Array([0]) : Y.encodeStateVector(m))
    }
    return svs
  }

  // With gc off, every other checkpoint also records Y.snapshot(observer)
  // ("n"); after the final checkpoint the observer is restored at each
  // snapshot with Y.createDocFromSnapshot ("r", checked like a checkpoint).
  // Chosen without the Rng, so the rest of a seed's scenario is unchanged.
  const snaps = []
  let checkpoints = 0
  const checkpoint = final => {
    emitRaw(checkpointLine(observer, specs, deliveries, final, randomSvs()))
    if (feat.has('snapshot') && !gc && !final && checkpoints++ % 2 === 0) {
      const snap = Y.snapshot(observer)
      emit({ t: 'n', k: snaps.length, s1: b64(Y.encodeSnapshot(snap)), s2: b64(Y.encodeSnapshotV2(snap)) })
      snaps.push(snap)
    }
  }
  const restoreSnapshots = () => {
    // Last: createDocFromSnapshot splits the observer's structs.
    snaps.forEach((snap, k) => {
      const restored = Y.createDocFromSnapshot(observer, snap)
      emitRaw(checkpointLine(restored, specs, deliveries, true, []).replace('{"t":"c",', `{"t":"r","k":${k},`))
    })
  }

  const feedObserver = (u1, u2, how) => {
    const f = r.bool(0.5) ? 1 : 2
    if (f === 1) Y.applyUpdate(observer, u1, kRemote)
    else Y.applyUpdateV2(observer, u2, kRemote)
    emit({ t: 'u', i: log.length, f, how, u1: b64(u1), u2: b64(u2) })
    log.push({ u1, u2 })
    deliveries++
    if (deliveries >= nextCheck) { checkpoint(false); nextCheck = deliveries + (opts.long ? r.int(30, 80) : r.int(5, 15)) }
  }

  // Deliver some of a queue, in random order, with duplicates and gaps.
  const drain = (queue, apply, all) => {
    r.shuffle(queue)
    const keep = []
    while (queue.length > 0) {
      const m = queue.pop()
      if (!all && r.bool(0.25)) { keep.push(m); continue } // held back: delivered late
      apply(m)
      if (r.bool(0.1)) keep.push(m) // duplicate, delivered again later
    }
    queue.push(...keep)
  }

  const deliverObserver = all => {
    // Sometimes a server-like merged batch instead of single updates.
    if (feat.has('merge') && obsInbox.length >= 2 && r.bool(0.2)) {
      r.shuffle(obsInbox)
      const k = r.int(2, Math.min(4, obsInbox.length))
      const batch = obsInbox.splice(0, k)
      feedObserver(Y.mergeUpdates(batch.map(m => m.u1)), Y.mergeUpdatesV2(batch.map(m => m.u2)), 'merged')
    }
    drain(obsInbox, m => feedObserver(m.u1, m.u2, m.how || 'update'), all)
  }

  const fullSync = (src, dstDoc, toObserver) => {
    const sv = r.bool(0.2) ? undefined : Y.encodeStateVector(dstDoc)
    const u1 = Y.encodeStateAsUpdate(src.doc, sv)
    const u2 = Y.encodeStateAsUpdateV2(src.doc, sv)
    if (toObserver) feedObserver(u1, u2, 'sync')
    else Y.applyUpdate(dstDoc, u1, kRemote)
  }

  for (let round = 0; round < rounds; round++) {
    // Concurrent edits: every (or almost every) editor runs transactions.
    for (const e of editors) {
      if (r.bool(0.15)) continue
      const ntx = r.int(1, opts.long ? 4 : 2)
      for (let k = 0; k < ntx; k++) {
        const nops = r.int(1, opts.long ? 6 : 3)
        // Listen only around local transactions: Yjs encodes an update for
        // every transaction that has listeners, remote ones included.
        let u1 = null
        let u2 = null
        const h1 = u => { u1 = u }
        const h2 = u => { u2 = u }
        e.doc.on('update', h1)
        e.doc.on('updateV2', h2)
        e.doc.transact(() => { for (let j = 0; j < nops; j++) randomEdit(g, e.roots) })
        e.doc.off('update', h1)
        e.doc.off('updateV2', h2)
        if (u1 !== null) e.out.push({ u1, u2 })
      }
    }
    // Route the new updates.
    for (const e of editors) {
      for (const m of e.out) {
        for (const d of editors) if (d !== e) d.inbox.push(m)
        obsInbox.push(m)
      }
      e.out.length = 0
    }
    // Network: each editor receives part of its inbox, sometimes a full sync.
    for (const d of editors) {
      drain(d.inbox, m => r.bool() ? Y.applyUpdate(d.doc, m.u1, kRemote) : Y.applyUpdateV2(d.doc, m.u2, kRemote), false)
      if (r.bool(0.1)) fullSync(r.pick(editors.filter(x => x !== d)), d.doc, false)
    }
    deliverObserver(false)
    if (r.bool(0.08)) fullSync(r.pick(editors), observer, true)
  }
  // Edits caused by remote updates are never forwarded, so the observer gets
  // everything once its inbox is flushed.
  deliverObserver(true)
  if (r.bool(0.3)) fullSync(r.pick(editors), observer, true)
  checkpoint(true)

  if (feat.has('docless')) doclessRecords(r, log, randomSvs, emitRaw, gc)
  restoreSnapshots()
  emit({ t: 'e', seed, deliveries })
}

// Doc-less module expectations (Yjs updates.js) over the observer's log.
const doclessRecords = (r, log, randomSvs, emitRaw, gc) => {
  if (log.length === 0) return
  const sublist = () => {
    const idx = []
    if (r.bool(0.3)) { for (let i = 0; i < log.length; i++) idx.push(i); return idx }
    const n = r.int(1, Math.min(8, log.length))
    for (let i = 0; i < n; i++) idx.push(r.int(0, log.length - 1))
    return idx
  }
  const merged = { 1: [], 2: [] }
  const nMerges = r.int(1, 3)
  for (let k = 0; k < nMerges; k++) {
    const idx = sublist()
    for (const v of [1, 2]) {
      const { line, merged: m } = mergeLine(v, idx, idx.map(i => (v === 1 ? log[i].u1 : log[i].u2)), gc, v === 1)
      merged[v].push(m)
      emitRaw(line)
    }
  }
  for (const v of [1, 2]) {
    const cs = log.map((l, i) => ({ ref: { in: i }, u: v === 1 ? l.u1 : l.u2 })).concat(merged[v].map(u => ({ ref: { u: b64(u) }, u })))
    for (let k = 0; k < 3; k++) {
      const c = r.pick(cs)
      for (const line of doclessLines(v, c.u, c.ref, randomSvs())) emitRaw(line)
    }
  }
  // Merges of earlier merge outputs with log entries in random order: the
  // same (client, clock) then often arrives both as a GC (from a gc'd sync)
  // and as an Item, where Yjs's reader order decides which one is kept.
  const nNested = r.int(0, 2)
  for (let k = 0; k < nNested; k++) {
    const picks = []
    const n = r.int(2, 6)
    for (let i = 0; i < n; i++) {
      if (r.bool(0.4)) picks.push({ m: r.int(0, merged[1].length - 1) })
      else picks.push({ i: r.int(0, log.length - 1) })
    }
    for (const v of [1, 2]) {
      const idx = picks.map(p => (p.m !== undefined ? { u: b64(merged[v][p.m]) } : p.i))
      const inputs = picks.map(p => (p.m !== undefined ? merged[v][p.m] : v === 1 ? log[p.i].u1 : log[p.i].u2))
      emitRaw(mergeLine(v, idx, inputs, gc, v === 1).line)
    }
  }
}

// ---------------------------------------------------------------- main

const main = async () => {
  const opts = parseArgs(process.argv.slice(2))
  const out = opts.out ? fs.createWriteStream(opts.out) : process.stdout
  let buf = []
  let bufLen = 0
  const flush = async () => {
    if (buf.length === 0) return
    const s = buf.join('')
    buf = []
    bufLen = 0
    if (!out.write(s)) await new Promise(resolve => out.once('drain', resolve))
  }
  const emitRaw = s => { buf.push(s); bufLen += s.length }
  let emit = obj => emitRaw(JSON.stringify(obj) + '\n')
  if (opts.corpus) {
    for (const v of ['v1', 'v2']) fs.mkdirSync(`${opts.corpus}/${v}`, { recursive: true })
    const plain = emit
    emit = obj => {
      if (obj.t === 'u') {
        for (const [v, u] of [['v1', obj.u1], ['v2', obj.u2]]) {
          const bytes = Buffer.from(u, 'base64')
          fs.writeFileSync(`${opts.corpus}/${v}/${createHash('sha1').update(bytes).digest('hex')}`, bytes)
        }
      }
      plain(obj)
    }
  }
  process.stderr.write(`gen.mjs: seeds ${opts.start}..${opts.start + opts.count - 1} types=${opts.types.join(',')} gc=${opts.gc}${opts.long ? ' long' : ''}\n`)
  for (let s = opts.start; s < opts.start + opts.count; s++) {
    try {
      runScenario(s, opts, emit, emitRaw)
    } catch (e) {
      process.stderr.write(`gen.mjs: seed ${s}: ${e.stack}\n`)
      process.exitCode = 1
      buf = []
    }
    if (bufLen > 1 << 20) await flush()
  }
  await flush()
  if (opts.out) out.end()
}

main()
