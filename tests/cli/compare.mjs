// Compares an output of `corates-sync update` with what Yjs gave (see make_fixtures.mjs).
//   node compare.mjs json|inspect ACTUAL EXPECTED
// Exit 0 when equal; otherwise prints one line saying where they differ and exits 1.
import fs from 'node:fs'

const [mode, actualFile, expectedFile] = process.argv.slice(2)
const expected = fs.readFileSync(expectedFile, 'utf8')
const actualText = fs.readFileSync(actualFile, 'utf8')
let actual
try {
  actual = JSON.parse(actualText)
} catch (e) {
  console.log(`output is not JSON: ${e.message}: ${actualText.slice(0, 120)}`)
  process.exit(1)
}

const firstDiff = (a, b) => {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `at char ${i}: got ${JSON.stringify(a.slice(Math.max(0, i - 30), i + 50))}, want ${JSON.stringify(b.slice(Math.max(0, i - 30), i + 50))}`
}

if (mode === 'json') {
  // Key order matters (one key per root, in the Doc's order), so compare text.
  const got = JSON.stringify(actual)
  const want = JSON.stringify(JSON.parse(expected))
  if (got !== want) { console.log(firstDiff(got, want)); process.exit(1) }
} else if (mode === 'inspect') {
  // Our inspect --json: {clients:[{client, structs:[{kind, clock, length, content?}]}],
  // delete_set:[{client, ranges:[[clock,len]...]}]}; Yjs: Y.decodeUpdate.
  const kindName = { gc: 'GC', skip: 'Skip', deleted: 'ContentDeleted', json: 'ContentJSON',
    binary: 'ContentBinary', string: 'ContentString', embed: 'ContentEmbed', format: 'ContentFormat',
    type: 'ContentType', any: 'ContentAny', doc: 'ContentDoc' }
  const structs = []
  for (const c of actual.clients ?? []) {
    for (const s of c.structs ?? []) {
      const kind = s.kind === 'item' ? kindName[s.content] ?? `?${s.content}` : kindName[s.kind] ?? `?${s.kind}`
      structs.push({ client: c.client, clock: s.clock, length: s.length, kind })
    }
  }
  const ds = (actual.delete_set ?? []).map((d) => [d.client, d.ranges])
  const want = JSON.parse(expected)
  const got = JSON.stringify({ structs, ds })
  const w = JSON.stringify(want)
  if (got !== w) { console.log(firstDiff(got, w)); process.exit(1) }
} else {
  console.log(`unknown mode ${mode}`)
  process.exit(2)
}
