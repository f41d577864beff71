// Heap taken by a Y.Doc loaded from an encoded (v1) update, measured in a
// fresh process: node --expose-gc yjs_mem.mjs FILE -> {"bytes": N, "length": L}
import * as Y from 'yjs'
import fs from 'node:fs'

const bytes = fs.readFileSync(process.argv[2])
const used = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed }
// Warm up the code paths once so that compiled code is not counted as data.
{ const d = new Y.Doc(); Y.applyUpdate(d, bytes); d.getText('text').length }
const before = used()
const doc = new Y.Doc()
doc.clientID = 2
Y.applyUpdate(doc, bytes)
const length = doc.getText('text').length
const after = used()
process.stdout.write(JSON.stringify({ bytes: after - before, length }) + '\n')
