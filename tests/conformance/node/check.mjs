#!/usr/bin/env node
// Self-check of the scenario files with Yjs itself: replays every scenario the
// way conformance_runner does (the recorded formats, and a second doc fed the
// other format) and recomputes every checkpoint. A difference here is a bug in
// the generator or a Yjs quirk the C++ runner must not be held to.
//   node tests/conformance/node/gen.mjs --start 1 --count 200 | node tests/conformance/node/check.mjs
import readline from 'node:readline'
import fs from 'node:fs'
import { Y, b64, getRoot, checkpointLine } from './common.mjs'

const input = process.argv[2] && process.argv[2] !== '-' ? fs.createReadStream(process.argv[2]) : process.stdin
const rl = readline.createInterface({ input, crlfDelay: Infinity })
let sc = null
let passed = 0
let failed = 0
const fromB64 = s => new Uint8Array(Buffer.from(s, 'base64'))
const fail = msg => { if (!sc.failed) { sc.failed = msg; } }

for await (const line of rl) {
  if (line.length === 0) continue
  const rec = JSON.parse(line)
  switch (rec.t) {
    case 's': {
      const mk = () => { const d = new Y.Doc({ gc: rec.gc, guid: 'conformance' }); d.clientID = rec.client; for (const [n, k] of rec.roots) getRoot(d, n, k); return d }
      sc = { rec, main: mk(), alt: mk(), failed: null, n: 0 }
      break
    }
    case 'u': {
      const u1 = fromB64(rec.u1)
      const u2 = fromB64(rec.u2)
      if (rec.f === 1) { Y.applyUpdate(sc.main, u1); Y.applyUpdateV2(sc.alt, u2) } else { Y.applyUpdateV2(sc.main, u2); Y.applyUpdate(sc.alt, u1) }
      sc.n++
      break
    }
    case 'c': {
      const svs = rec.diffs.map(d => fromB64(d.sv))
      const norm = l => { const o = JSON.parse(l); return JSON.stringify([o.sv, o.s1, o.s2, o.diffs, JSON.stringify(o.json).length, JSON.stringify(o.delta).length]) }
      const want = norm(line)
      if (norm(checkpointLine(sc.main, sc.rec.roots, rec.n, rec.final, svs)) !== want) fail(`checkpoint after ${sc.n}: main doc differs`)
      if (norm(checkpointLine(sc.alt, sc.rec.roots, rec.n, rec.final, svs)) !== want) fail(`checkpoint after ${sc.n}: doc fed the other format differs`)
      break
    }
    case 'e':
      if (sc.failed) { failed++; console.log(`FAIL seed ${sc.rec.seed}${sc.rec.name ? ' ' + sc.rec.name : ''}: ${sc.failed}`) } else passed++
      sc = null
      break
  }
}
console.log(`check: ${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
