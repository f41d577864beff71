// The reference y-websocket server (@y/websocket-server, in memory) for the load
// benchmark: the same wiring as its bin/server.js, on a port given or chosen by the OS.
// Prints "listening on http://HOST:PORT" once it accepts connections, like corates-sync.
//   node bench/load/peers/ywebsocket.mjs [--listen HOST:PORT]
import http from 'node:http'
import { createRequire } from 'node:module'
import { setupWSConnection } from '@y/websocket-server/utils'

// The ws the package itself depends on (its bin/server.js uses it), not the root's.
const WebSocket = createRequire(import.meta.resolve('@y/websocket-server/utils'))('ws')

const arg = process.argv.indexOf('--listen')
const [host, port] = (arg > 0 ? process.argv[arg + 1] : '127.0.0.1:0').split(':')

const wss = new WebSocket.Server({ noServer: true })
wss.on('connection', setupWSConnection)
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' })
  res.end('okay')
})
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, ws => wss.emit('connection', ws, req))
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
server.listen(Number(port), host, () => {
  console.log(`listening on http://${host}:${server.address().port}`)
})
