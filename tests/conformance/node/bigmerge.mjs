#!/usr/bin/env node
// Big-merge scenarios: Y.mergeUpdates / Y.mergeUpdatesV2 of 300-2000 updates
// that must come out byte-identical (`"exact":true` merge records, format in
// ../README.md). Several gc'd editors make per-transaction updates (Items) and
// delete nested types, so their children become GC structs; whole-state
// snapshots, diffs against older state vectors and merged batches of the same
// docs then carry GC structs at ids other inputs carry as Items. Two readers
// whose current structs tie on (client, clock) as Item and GC are each
// "smaller" than the other in Yjs's sort comparator, which is what the C++
// merge must reproduce with any number of inputs.
//
//   node tests/conformance/node/bigmerge.mjs --seed 7
//   node tests/conformance/node/bigmerge.mjs --start 1 --count 5 [--min 300] [--max 2000]
import { Y, Rng, b64, reseedFill, mergeLine } from './common.mjs'

const parseArgs = argv => {
  const o = { start: 1, count: 1, min: 300, max: 2000 }
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let v = null
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) { v = a.slice(eq + 1); a = a.slice(0, eq) }
    const val = () => Number(v !== null ? v : argv[++i])
    switch (a) {
      case '--seed': o.start = val(); o.count = 1; break
      case '--start': o.start = val(); break
      case '--count': o.count = val(); break
      case '--min': o.min = val(); break
      case '--max': o.max = val(); break
      case '--help':
        process.stdout.write('bigmerge.mjs [--seed S | --start S --count N] [--min N] [--max N]\n')
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${a}`)
    }
  }
  return o
}

const kRoots = [['a', 'array'], ['m', 'map'], ['t', 'text']]
const kKeys = ['a', 'b', 'c', 'd', 'e', 'f']

// A nested type with a few children (they are GC'd when it is deleted).
const nested = (r, depth) => {
  const k = r.int(0, depth > 0 ? 3 : 2)
  if (k === 0) {
    const t = new Y.Text()
    t.insert(0, 'xyz'.slice(0, r.int(1, 3)))
    return t
  }
  if (k === 1) {
    const m = new Y.Map()
    for (let i = r.int(1, 3); i > 0; i--) m.set(r.pick(kKeys), r.int(0, 99))
    return m
  }
  const a = new Y.Array()
  const items = []
  for (let i = r.int(1, 3); i > 0; i--) items.push(k === 3 ? nested(r, depth - 1) : r.int(0, 99))
  a.insert(0, items)
  return a
}

// Nested types reachable from the roots (to edit inside them).
const nestedTypes = doc => {
  const out = []
  const walk = t => {
    if (t instanceof Y.Array) t.forEach(x => { if (x instanceof Y.AbstractType) { out.push(x); walk(x) } })
    else if (t instanceof Y.Map) t.forEach(x => { if (x instanceof Y.AbstractType) { out.push(x); walk(x) } })
  }
  walk(doc.getArray('a'))
  walk(doc.getMap('m'))
  return out
}

const edit = (r, doc) => {
  const a = doc.getArray('a')
  const m = doc.getMap('m')
  const t = doc.getText('t')
  const x = r.next()
  if (x < 0.25) {
    a.insert(r.int(0, a.length), [r.bool(0.7) ? nested(r, 2) : r.int(0, 99)])
  } else if (x < 0.4) {
    if (a.length > 0) { const p = r.int(0, a.length - 1); a.delete(p, r.int(1, Math.min(2, a.length - p))) }
  } else if (x < 0.55) {
    m.set(r.pick(kKeys), r.bool(0.6) ? nested(r, 1) : r.int(0, 99)) // overwriting deletes the old value
  } else if (x < 0.8) {
    const ts = nestedTypes(doc)
    if (ts.length === 0) return
    const n = r.pick(ts)
    if (n instanceof Y.Text) n.insert(r.int(0, n.length), 'pq'.slice(0, r.int(1, 2)))
    else if (n instanceof Y.Map) n.set(r.pick(kKeys), r.int(0, 99))
    else if (r.bool(0.7) || n.length === 0) n.insert(r.int(0, n.length), [r.int(0, 99)])
    else n.delete(r.int(0, n.length - 1), 1)
  } else if (x < 0.92 || t.length === 0) {
    t.insert(r.int(0, t.length), 'hello'.slice(0, r.int(1, 5)))
  } else {
    const p = r.int(0, t.length - 1)
    t.delete(p, r.int(1, Math.min(3, t.length - p)))
  }
}

const runBig = (seed, opts, emit) => {
  const r = new Rng(seed)
  reseedFill(seed * 2654435761)
  const target = r.int(opts.min, opts.max)
  const ids = new Set()
  const newId = () => {
    for (;;) {
      const id = r.bool(0.3) ? r.int(0, 20) : r.uint32()
      if (!ids.has(id)) { ids.add(id); return id }
    }
  }
  const editors = []
  for (let i = r.int(3, 6); i > 0; i--) {
    const doc = new Y.Doc({ gc: true })
    doc.clientID = newId()
    editors.push({ doc, inbox: [], svs: [] })
  }
  const pool = [] // {u1, u2}
  const kinds = { update: 0, snapshot: 0, diff: 0, merged: 0 }
  while (pool.length < target) {
    const e = r.pick(editors)
    let u1 = null
    let u2 = null
    const h1 = u => { u1 = u }
    const h2 = u => { u2 = u }
    e.doc.on('update', h1)
    e.doc.on('updateV2', h2)
    e.doc.transact(() => { for (let j = r.int(1, 3); j > 0; j--) edit(r, e.doc) })
    e.doc.off('update', h1)
    e.doc.off('updateV2', h2)
    if (u1 !== null) {
      pool.push({ u1, u2 })
      kinds.update++
      for (const d of editors) if (d !== e) d.inbox.push({ u1, u2 })
    }
    // Deliver part of an inbox (out of order: Yjs keeps what it cannot apply pending).
    const d = r.pick(editors)
    if (r.bool(0.6) && d.inbox.length > 0) {
      r.shuffle(d.inbox)
      const n = r.int(1, d.inbox.length)
      for (const m of d.inbox.splice(0, n)) r.bool() ? Y.applyUpdate(d.doc, m.u1) : Y.applyUpdateV2(d.doc, m.u2)
    }
    if (r.bool(0.1)) d.svs.push(Y.encodeStateVector(d.doc))
    const y = r.next()
    if (y < 0.01) { // whole gc'd state
      const s = r.pick(editors).doc
      pool.push({ u1: Y.encodeStateAsUpdate(s), u2: Y.encodeStateAsUpdateV2(s) })
      kinds.snapshot++
    } else if (y < 0.035) { // gc'd state against an older state vector (starts at a transaction's first clock)
      const s = r.pick(editors)
      const older = r.pick(editors).svs
      const sv = older.length > 0 ? r.pick(older) : Y.encodeStateVector(r.pick(editors).doc)
      pool.push({ u1: Y.encodeStateAsUpdate(s.doc, sv), u2: Y.encodeStateAsUpdateV2(s.doc, sv) })
      kinds.diff++
    } else if (y < 0.045 && pool.length >= 2) { // a server-like merged batch of earlier inputs
      const batch = []
      for (let i = r.int(2, 8); i > 0; i--) batch.push(r.pick(pool))
      pool.push({ u1: Y.mergeUpdates(batch.map(b => b.u1)), u2: Y.mergeUpdatesV2(batch.map(b => b.u2)) })
      kinds.merged++
    }
  }
  // Input order: as made, shuffled, or as made with local swaps; some duplicates.
  const order = pool.slice()
  const how = r.int(0, 2)
  if (how === 1) r.shuffle(order)
  if (how === 2) for (let i = 0; i + 1 < order.length; i++) if (r.bool(0.3)) { const t = order[i]; order[i] = order[i + 1]; order[i + 1] = t }
  for (let i = r.int(0, 10); i > 0; i--) order.splice(r.int(0, order.length), 0, r.pick(pool))

  emit({
    t: 's', seed, gc: true, long: false, types: ['bigmerge'], client: newId(),
    cmd: `node tests/conformance/node/bigmerge.mjs --seed ${seed} --min ${opts.min} --max ${opts.max}`, editors: editors.map(x => x.doc.clientID), roots: kRoots,
    inputs: order.length, kinds, order: ['made', 'shuffled', 'swapped'][how]
  })
  for (const v of [1, 2]) {
    const inputs = order.map(p => (v === 1 ? p.u1 : p.u2))
    const { line } = mergeLine(v, inputs.map(u => ({ u: b64(u) })), inputs, true, false, { exact: true })
    emit(line)
  }
  emit({ t: 'e', seed, deliveries: 0 })
}

const main = async () => {
  const opts = parseArgs(process.argv.slice(2))
  process.stderr.write(`bigmerge.mjs: seeds ${opts.start}..${opts.start + opts.count - 1}\n`)
  for (let s = opts.start; s < opts.start + opts.count; s++) {
    const chunks = []
    try {
      runBig(s, opts, x => chunks.push(typeof x === 'string' ? x : JSON.stringify(x) + '\n'))
    } catch (e) {
      process.stderr.write(`bigmerge.mjs: seed ${s}: ${e.stack}\n`)
      process.exitCode = 1
      continue
    }
    const text = chunks.join('')
    if (!process.stdout.write(text)) await new Promise(resolve => process.stdout.once('drain', resolve))
  }
}

main()
