// A js-libp2p peer driven by the C++ interop tests (tests/interop/interop_test.cpp).
//
//   node --import ./polyfill.mjs js_peer.mjs listen
//     Listens on 127.0.0.1, serves /echo/1.0.0, prints one JSON line per event on stdout:
//     {"type":"listening",peerId,addrs}, {"type":"connect",peer}, {"type":"identify",...}.
//     Exits when stdin closes.
//   node --import ./polyfill.mjs js_peer.mjs dial <multiaddr> <streams> <bytes-per-stream>
//     Dials, identifies, pings, echoes <bytes> on each of <streams> concurrent streams and prints
//     {"type":"result",...}. Exit status 0 only if everything checked out.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes, createHash } from 'node:crypto'

const ECHO = '/echo/1.0.0'
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

async function makeNode (listen) {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
}

async function serveEcho (stream) {
  for await (const chunk of stream) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
}

const identifySummary = (r) => ({
  peer: r.peerId.toString(),
  agentVersion: r.agentVersion,
  protocolVersion: r.protocolVersion,
  protocols: r.protocols,
  listenAddrs: r.listenAddrs.map(a => a.toString())
})

async function echoOnce (node, target, size) {
  const stream = await node.dialProtocol(target, ECHO)
  const data = randomBytes(size)
  const want = createHash('sha256').update(data).digest('hex')
  const reader = (async () => {
    const h = createHash('sha256')
    let got = 0
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      h.update(bytes)
      got += bytes.length
    }
    return { got, hash: h.digest('hex') }
  })()
  for (let off = 0; off < size; off += 65536) {
    if (!stream.send(data.subarray(off, Math.min(size, off + 65536)))) await stream.onDrain()
  }
  await stream.close()
  const r = await reader
  return r.got === size && r.hash === want
}

async function listen () {
  const node = await makeNode(true)
  await node.handle(ECHO, serveEcho, { maxInboundStreams: 64 })
  node.addEventListener('peer:connect', (e) => out({ type: 'connect', peer: e.detail.toString() }))
  node.addEventListener('peer:identify', (e) => out({ type: 'identify', ...identifySummary(e.detail) }))
  out({
    type: 'listening',
    peerId: node.peerId.toString(),
    addrs: node.getMultiaddrs().map(a => a.toString())
  })
  process.stdin.resume()
  process.stdin.on('end', async () => { await node.stop(); process.exit(0) })
}

async function dial (addr, streams, size) {
  const node = await makeNode(false)
  const target = multiaddr(addr)
  // identify runs by itself on every new connection; wait for its result rather than racing it
  const identified = new Promise((resolve) => node.addEventListener('peer:identify', (e) => resolve(e.detail), { once: true }))
  const conn = await node.dial(target)
  const result = { type: 'result', self: node.peerId.toString(), remotePeer: conn.remotePeer.toString() }
  result.identify = identifySummary(await identified)
  result.pingRtt = await node.services.ping.ping(target)
  const oks = await Promise.all(Array.from({ length: streams }, () => echoOnce(node, conn.remotePeer, size)))
  result.echo = { streams, bytesPerStream: size, ok: oks.every(Boolean) }
  out(result)
  await node.stop()
  process.exit(result.echo.ok ? 0 : 1)
}

const [mode, ...args] = process.argv.slice(2)
try {
  if (mode === 'listen') await listen()
  else if (mode === 'dial') await dial(args[0], Number(args[1] ?? 4), Number(args[2] ?? 1 << 20))
  else throw new Error('usage: js_peer.mjs listen | dial <multiaddr> <streams> <bytes>')
} catch (err) {
  out({ type: 'error', message: String(err?.stack ?? err) })
  process.exit(2)
}
