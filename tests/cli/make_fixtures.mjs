// Generates the inputs and expected outputs of tests/cli/run.sh with real Yjs.
//
//   node tests/cli/make_fixtures.mjs OUT_DIR
//
// Writes update files made by Yjs documents with fixed client ids, the results
// Yjs itself gives for each `corates-sync update` subcommand, and OUT_DIR/cases.tsv:
// one test case per line, tab-separated:
//   name  compare  expected-file  arg...
// where compare is "bytes" (identical output), "json" (same JSON value, key order
// included), "inspect" (the structs and delete set of Y.decodeUpdate; see
// compare.mjs) or "bad" (exit status 2, one line on stderr), and the args follow
// `corates-sync update`. "@OUT" stands for an output file chosen by run.sh (without
// it, stdout is the output); an arg "<FILE" feeds FILE to stdin.
import * as Y from 'yjs'
import fs from 'node:fs'
import path from 'node:path'

const out = process.argv[2]
if (!out) {
  console.error('usage: node make_fixtures.mjs OUT_DIR')
  process.exit(2)
}
fs.mkdirSync(out, { recursive: true })
const cases = []
const write = (rel, bytes) => {
  const p = path.join(out, rel)
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, bytes)
  return p
}
const addCase = (name, compare, expected, ...args) => cases.push([name, compare, expected, ...args].join('\t'))

// JSON as the CLI prints it: Yjs toJSON() values, Uint8Array as {"$bytes": base64}.
const toJsonText = (v) => JSON.stringify(v, (_k, x) =>
  x instanceof Uint8Array ? { $bytes: Buffer.from(x).toString('base64') } : x)

// Peers whose local transactions are recorded, in order, as v1 and v2 updates;
// remote updates are applied with origin 'remote' and not recorded again.
const log = [] // {v1, v2, from}
const peer = (clientID, gc = true) => {
  const doc = new Y.Doc({ gc })
  doc.clientID = clientID
  doc.on('update', (u, origin) => { if (origin !== 'remote') log.push({ v1: u, from: doc }) })
  doc.on('updateV2', (u, origin) => {
    if (origin !== 'remote') log[log.length - 1].v2 = u
  })
  return doc
}
const sync = (a, b) => {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'remote')
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)), 'remote')
}

// --- Scenario "rich": every root kind, formats, embeds, nested types, deletes, concurrency.
const A = peer(101)
const B = peer(202)
{
  const text = A.getText('text')
  text.insert(0, 'Hello world 😀!')
  text.format(0, 5, { bold: true })
  text.insertEmbed(6, { image: 'cat.png' })
  const map = B.getMap('map')
  B.transact(() => {
    map.set('title', 'Doc')
    map.set('n', 42)
    map.set('pi', 3.25)
    map.set('f', 0.1)
    map.set('neg', -7)
    map.set('big', 2 ** 40)
    map.set('flag', true)
    map.set('nil', null)
    map.set('bytes', new Uint8Array([1, 2, 3, 250]))
    map.set('obj', { a: [1, { b: 'c' }], 'quote"d': 'line\nbreak' })
  })
  sync(A, B)
  const list = A.getArray('list')
  list.push([1, 'two', { three: 3 }, [4], true, null])
  const nestedMap = new Y.Map()
  list.push([nestedMap])
  nestedMap.set('k', 'v')
  list.insert(1, [new Y.Text('nested text')])
  B.getText('text').insert(0, 'B says: ')
  B.getText('text').delete(2, 3)
  sync(A, B)
  const xml = A.getXmlFragment('xml')
  const p = new Y.XmlElement('p')
  p.setAttribute('class', 'x')
  const t = new Y.XmlText()
  p.insert(0, [t])
  t.insert(0, 'hi ')
  t.insert(3, 'there', { bold: true })
  xml.insert(0, [p, new Y.XmlText('tail')])
  B.transact(() => {
    map.set('title', 'Doc 2')
    map.delete('nil')
    const sub = new Y.Array()
    map.set('sub', sub)
    sub.push(['x', 'y'])
  })
  sync(A, B)
  A.getArray('list').delete(0, 1)
  A.getText('text').format(2, 4, { italic: true })
  B.getText('text').insert(3, 'ü')
  sync(A, B)
}
const rich = log.splice(0)
const files = (set, dir, fmt) => set.map((u, i) => write(`${dir}/u${String(i).padStart(4, '0')}.${fmt}`, u[fmt]))
const richV1 = files(rich, 'rich', 'v1')
const richV2 = files(rich, 'rich', 'v2')

const ctors = { text: Y.Text, list: Y.Array, map: Y.Map, xml: Y.XmlFragment }
const kinds = { text: 'text', list: 'array', map: 'map', xml: 'xml' }
const load = (updates, { gc = true, v2 = false } = {}) => {
  const doc = new Y.Doc({ gc })
  doc.clientID = 999
  for (const u of updates) (v2 ? Y.applyUpdateV2 : Y.applyUpdate)(doc, u)
  return doc
}
const docJson = (doc, { delta = false } = {}) => {
  const keys = [...doc.share.keys()]
  const o = {}
  for (const k of keys) {
    const t = doc.get(k, ctors[k])
    o[k] = delta && t instanceof Y.Text ? t.toDelta() : t.toJSON()
  }
  return toJsonText(o)
}

for (const gc of [true, false]) {
  const g = gc ? 'gc' : 'nogc'
  const flag = gc ? [] : ['--no-gc']
  const doc = load(rich.map((u) => u.v1), { gc })
  const v1 = write(`expect/rich.encode.${g}.v1`, Y.encodeStateAsUpdate(doc))
  const v2 = write(`expect/rich.encode.${g}.v2`, Y.encodeStateAsUpdateV2(doc))
  addCase(`encode ${g}`, 'bytes', v1, 'encode', ...flag, '-o', '@OUT', ...richV1)
  addCase(`encode ${g} --out-v2`, 'bytes', v2, 'encode', ...flag, '--out-v2', '-o', '@OUT', ...richV1)
  addCase(`encode ${g} --v2 inputs`, 'bytes', v1, 'encode', '--v2', ...flag, '-o', '@OUT', ...richV2)
  const j = write(`expect/rich.json.${g}`, docJson(doc))
  addCase(`to-json ${g} inferred`, 'json', j, 'to-json', ...flag, '-o', '@OUT', ...richV1)
  const types = Object.entries(kinds).flatMap(([k, v]) => ['--type', `${k}=${v}`])
  addCase(`to-json ${g} --type`, 'json', j, 'to-json', ...flag, ...types, '-o', '@OUT', ...richV1)
}
{
  const doc = load(rich.map((u) => u.v1))
  addCase('to-json --v2', 'json', path.join(out, 'expect/rich.json.gc'), 'to-json', '--v2', '-o', '@OUT', ...richV2)
  const d = write('expect/rich.delta', docJson(doc, { delta: true }))
  addCase('to-json --delta', 'json', d, 'to-json', '--delta', '-o', '@OUT', ...richV1)
  // Out of order: later updates wait (pending) until their dependencies arrive.
  const rev = [...rich].reverse()
  const docRev = load(rev.map((u) => u.v1))
  const e = write('expect/rich.encode.reversed.v1', Y.encodeStateAsUpdate(docRev))
  addCase('encode out of order', 'bytes', e, 'encode', '-o', '@OUT', ...[...richV1].reverse())
  // Only a late update: everything stays pending and is re-encoded as such.
  const last = rich.length - 1
  const docPend = load([rich[last].v1])
  const p = write('expect/rich.encode.pending.v1', Y.encodeStateAsUpdate(docPend))
  addCase('encode pending only', 'bytes', p, 'encode', '-o', '@OUT', richV1[last])
  // Roots named only by pending structs hold nothing: JSON.stringify(doc.toJSON()) leaves them out.
  const pj = write('expect/rich.json.pending', JSON.stringify(docPend.toJSON()))
  addCase('to-json pending only', 'json', pj, 'to-json', '-o', '@OUT', richV1[last])
  // From stdin, a whole state: roots come in the order its structs name them.
  const docState = load([fs.readFileSync(path.join(out, 'expect/rich.encode.gc.v1'))])
  const jt = write('expect/rich.json.state', docJson(docState))
  addCase('to-json stdin', 'json', jt, 'to-json', '-o', '@OUT', '-', `<${path.join(out, 'expect/rich.encode.gc.v1')}`)
}

// Doc-less operations on the rich scenario.
{
  const v1s = rich.map((u) => u.v1)
  const v2s = rich.map((u) => u.v2)
  const m1 = write('expect/rich.merge.v1', Y.mergeUpdates(v1s))
  const m2 = write('expect/rich.merge.v2', Y.mergeUpdatesV2(v2s))
  addCase('merge v1', 'bytes', m1, 'merge', '-o', '@OUT', ...richV1)
  addCase('merge --v2', 'bytes', m2, 'merge', '--v2', '-o', '@OUT', ...richV2)
  write('rich/list.v1', richV1.join('\n') + '\n')
  addCase('merge --list', 'bytes', m1, 'merge', '--list', path.join(out, 'rich/list.v1'), '-o', '@OUT')
  addCase('merge to stdout', 'bytes', m1, 'merge', ...richV1)
  addCase('state-vector from stdin to stdout', 'bytes', write('expect/rich.sv.stdin', Y.encodeStateVectorFromUpdate(fs.readFileSync(m1))), 'state-vector', '-', `<${m1}`)
  const half = load(v1s.slice(0, Math.floor(v1s.length / 2)))
  const sv = write('rich/half.sv', Y.encodeStateVector(half))
  const d1 = write('expect/rich.diff.v1', Y.diffUpdate(Y.mergeUpdates(v1s), Y.encodeStateVector(half)))
  const d2 = write('expect/rich.diff.v2', Y.diffUpdateV2(Y.mergeUpdatesV2(v2s), Y.encodeStateVector(half)))
  addCase('diff v1', 'bytes', d1, 'diff', '--state-vector', sv, '-o', '@OUT', m1)
  addCase('diff --v2', 'bytes', d2, 'diff', '--v2', '--state-vector', sv, '-o', '@OUT', m2)
  const full = load(v1s)
  const st = write('expect/rich.state.v1', Y.encodeStateAsUpdate(full))
  const d3 = write('expect/rich.diff.state.v1', Y.diffUpdate(Y.encodeStateAsUpdate(full), Y.encodeStateVector(half)))
  addCase('diff of a whole state', 'bytes', d3, 'diff', '--state-vector', sv, '-o', '@OUT', st)
  const s1 = write('expect/rich.sv.v1', Y.encodeStateVectorFromUpdate(Y.mergeUpdates(v1s)))
  const s2 = write('expect/rich.sv.v2', Y.encodeStateVectorFromUpdateV2(Y.mergeUpdatesV2(v2s)))
  addCase('state-vector v1', 'bytes', s1, 'state-vector', '-o', '@OUT', m1)
  addCase('state-vector --v2', 'bytes', s2, 'state-vector', '--v2', '-o', '@OUT', m2)
  const s3 = write('expect/rich.sv.state', Y.encodeStateVectorFromUpdate(Y.encodeStateAsUpdate(full)))
  addCase('state-vector of a whole state', 'bytes', s3, 'state-vector', '-o', '@OUT', st)
  const c12 = write('expect/rich.convert.to-v2', Y.convertUpdateFormatV1ToV2(Y.mergeUpdates(v1s)))
  const c21 = write('expect/rich.convert.to-v1', Y.convertUpdateFormatV2ToV1(Y.mergeUpdatesV2(v2s)))
  addCase('convert --to v2', 'bytes', c12, 'convert', '--to', 'v2', '-o', '@OUT', m1)
  addCase('convert --to v1', 'bytes', c21, 'convert', '--to', 'v1', '-o', '@OUT', m2)
  const c3 = write('expect/rich.convert.state.to-v2', Y.convertUpdateFormatV1ToV2(Y.encodeStateAsUpdate(full)))
  addCase('convert whole state --to v2', 'bytes', c3, 'convert', '--to', 'v2', '-o', '@OUT', st)
  // inspect: compared with Y.decodeUpdate's structs and delete set.
  for (const [name, file, v2] of [['merged', m1, false], ['state', st, false], ['merged v2', m2, true]]) {
    const bytes = fs.readFileSync(file)
    const { structs, ds } = (v2 ? Y.decodeUpdateV2 : Y.decodeUpdate)(bytes)
    const summary = {
      structs: structs.map((s) => ({
        client: s.id.client, clock: s.id.clock, length: s.length,
        kind: s.constructor.name === 'Item' ? s.content.constructor.name : s.constructor.name
      })),
      ds: [...ds.clients.entries()].map(([c, rs]) => [c, rs.map((r) => [r.clock, r.len])])
    }
    const e = write(`expect/inspect.${name.replace(' ', '.')}.json`, JSON.stringify(summary))
    addCase(`inspect --json ${name}`, 'inspect', e, 'inspect', ...(v2 ? ['--v2'] : []), '--json', '-o', '@OUT', file)
  }
}

// --- Scenario "typing": many small updates (one per keystroke), merged from a list.
{
  const doc = peer(7)
  const t = doc.getText('t')
  let s = 'The quick brown fox jumps over the lazy dog. '
  for (let i = 0; i < 600; i++) {
    if (i % 7 === 6 && t.length > 3) t.delete(t.length - 2, 1)
    else t.insert(t.length, s[i % s.length])
  }
  const typing = log.splice(0)
  const v1 = files(typing, 'typing', 'v1')
  const v2 = files(typing, 'typing', 'v2')
  write('typing/list.v1', v1.join('\n') + '\n')
  // Relative paths resolve against the working directory; run.sh runs in OUT_DIR.
  write('typing/list.v2', v2.map((p) => path.relative(out, p)).join('\r\n'))
  const m1 = write('expect/typing.merge.v1', Y.mergeUpdates(typing.map((u) => u.v1)))
  const m2 = write('expect/typing.merge.v2', Y.mergeUpdatesV2(typing.map((u) => u.v2)))
  addCase('merge --list (600 updates)', 'bytes', m1, 'merge', '--list', path.join(out, 'typing/list.v1'), '-o', '@OUT')
  addCase('merge --v2 --list (CRLF, relative)', 'bytes', m2, 'merge', '--v2', '--list', path.join(out, 'typing/list.v2'), '-o', '@OUT')
  const e = write('expect/typing.encode.v1', Y.encodeStateAsUpdate(load(typing.map((u) => u.v1))))
  addCase('encode 600 updates', 'bytes', e, 'encode', '-o', '@OUT', ...v1)
  const j = write('expect/typing.json', JSON.stringify({ t: doc.getText('t').toString() }))
  addCase('to-json typing', 'json', j, 'to-json', '-o', '@OUT', ...v1)
  const svFile = write('expect/typing.sv', Y.encodeStateVectorFromUpdate(fs.readFileSync(m1)))
  addCase('state-vector typing', 'bytes', svFile, 'state-vector', '-o', '@OUT', m1)
}

// --- Scenario "subdoc": a subdocument (ContentDoc) with options, gc off.
{
  const doc = peer(55, false)
  const folder = doc.getMap('folder')
  folder.set('child', new Y.Doc({ guid: 'child-guid', meta: { note: 'x' }, autoLoad: true }))
  doc.getArray('items').push([new Y.Doc({ guid: 'second' }), 'a'])
  doc.getArray('items').delete(1, 1)
  const sub = log.splice(0)
  const v1 = files(sub, 'subdoc', 'v1')
  for (const gc of [true, false]) {
    const g = gc ? 'gc' : 'nogc'
    const e = write(`expect/subdoc.encode.${g}.v1`, Y.encodeStateAsUpdate(load(sub.map((u) => u.v1), { gc })))
    addCase(`encode subdoc ${g}`, 'bytes', e, 'encode', ...(gc ? [] : ['--no-gc']), '-o', '@OUT', ...v1)
  }
  const loaded = load(sub.map((u) => u.v1))
  const sj = write('expect/subdoc.json', toJsonText({ folder: loaded.getMap('folder').toJSON(), items: loaded.getArray('items').toJSON() }))
  addCase('to-json subdoc', 'json', sj, 'to-json', '-o', '@OUT', ...v1)
  const m = write('expect/subdoc.merge.v1', Y.mergeUpdates(sub.map((u) => u.v1)))
  addCase('merge subdoc', 'bytes', m, 'merge', '-o', '@OUT', ...v1)
}

// --- Bad input: run.sh expects exit status 2 and exactly one line on stderr.
{
  const good = fs.readFileSync(path.join(out, 'expect/rich.state.v1'))
  const trunc = write('bad/truncated.v1', good.subarray(0, Math.floor(good.length / 2)))
  const garbage = write('bad/garbage', Buffer.from('this is not a yjs update, just text\n'))
  const huge = write('bad/huge-length', Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]))
  const trunc2 = write('bad/truncated.v2', fs.readFileSync(path.join(out, 'expect/rich.encode.gc.v2')).subarray(0, 40))
  const missing = path.join(out, 'bad/does-not-exist')
  const bad = []
  for (const [what, f] of [['truncated', trunc], ['garbage', garbage], ['huge length', huge], ['missing file', missing]]) {
    bad.push([`encode ${what}`, 'encode', f])
    bad.push([`merge ${what}`, 'merge', richV1[0], f])
    bad.push([`state-vector ${what}`, 'state-vector', f])
    bad.push([`convert ${what}`, 'convert', '--to', 'v2', f])
    bad.push([`to-json ${what}`, 'to-json', f])
    bad.push([`inspect ${what}`, 'inspect', f])
    bad.push([`diff ${what}`, 'diff', '--state-vector', path.join(out, 'rich/half.sv'), f])
  }
  bad.push(['diff bad state vector', 'diff', '--state-vector', garbage, path.join(out, 'expect/rich.merge.v1')])
  bad.push(['merge --v2 truncated v2', 'merge', '--v2', trunc2])
  bad.push(['convert --to v1 truncated v2', 'convert', '--to', 'v1', trunc2])
  bad.push(['encode a directory', 'encode', path.join(out, 'rich')])
  bad.push(['to-json bad --type', 'to-json', '--type', 'text=string', richV1[0]])
  bad.push(['merge --list missing entry', 'merge', '--list', write('bad/list', `${richV1[0]}\n${missing}\n`)])
  for (const [name, ...args] of bad) addCase(`bad input: ${name}`, 'bad', '-', ...args)
}

fs.writeFileSync(path.join(out, 'cases.tsv'), cases.join('\n') + '\n')
console.log(`${cases.length} cases`)
