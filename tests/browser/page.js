// The test page's script, bundled by esbuild at test time: the stock yjs and
// y-websocket a web app would ship, driven by browser.mjs through
// page.evaluate. Nothing here knows about corates-sync.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

let doc = null
let provider = null

const sortKeys = v => {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map(k => [k, sortKeys(v[k])]))
  return v
}

window.corates = {
  start (url, room, params, name) {
    doc = new Y.Doc()
    provider = new WebsocketProvider(url, room, doc, { params, maxBackoffTime: 300 })
    provider.awareness.setLocalStateField('user', { name })
    return doc.clientID
  },
  status: () => ({ synced: provider.synced, connected: provider.wsconnected }),
  disconnect: () => provider.disconnect(),
  connect: () => provider.connect(),
  edit (tag, i) {
    doc.transact(() => {
      const text = doc.getText('text')
      text.insert(Math.min(i % 7, text.length), `${tag}${i} `)
      if (i % 3 === 2 && text.length > 4) text.delete(1, 2)
      doc.getMap('map').set(`${tag}-${i % 4}`, { i, by: tag })
      const arr = doc.getArray('array')
      arr.insert(Math.min(i % 5, arr.length), [`${tag}${i}`])
      if (i % 4 === 3) arr.delete(0, 1)
    })
  },
  // Content with sorted keys and the state vector as sorted [client, clock] pairs.
  state: () => JSON.stringify({
    text: doc.getText('text').toString(),
    map: sortKeys(doc.getMap('map').toJSON()),
    array: doc.getArray('array').toJSON(),
    sv: [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0])
  }),
  peers: () => [...provider.awareness.getStates().entries()]
    .filter(([id]) => id !== doc.clientID)
    .map(([id, s]) => ({ id, name: s.user && s.user.name }))
}
window.corates.ready = true
