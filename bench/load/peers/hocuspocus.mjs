// Hocuspocus 4 in memory (no extensions, no persistence) for the load benchmark.
// Prints "listening on http://HOST:PORT" once it accepts connections, like corates-sync.
//   node bench/load/peers/hocuspocus.mjs [--listen HOST:PORT]
import { Server } from '@hocuspocus/server'

const arg = process.argv.indexOf('--listen')
const [host, port] = (arg > 0 ? process.argv[arg + 1] : '127.0.0.1:0').split(':')

const server = new Server({
  address: host,
  port: Number(port),
  quiet: true,
  // Real providers send awareness every 15 s and so never hit the 60 s idle
  // timeout; the load tool's idle clients send nothing, so keep them alive.
  timeout: 3_600_000,
  stopOnSignals: true
})
await server.listen()
console.log(`listening on http://${host}:${server.address.port}`)
