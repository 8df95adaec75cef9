// A js-libp2p node with @libp2p/gossipsub, driven by tests/interop/gossipsub_interop_test.cpp.
//
//   node --import ./polyfill.mjs js_gossip_peer.mjs <topic> [dial-multiaddr]
//     Listens on 127.0.0.1 (and dials the multiaddr if given), subscribes to <topic> and prints one
//     JSON line per event on stdout:
//       {"type":"listening",peerId,addrs}   {"type":"connect",peer}
//       {"type":"graft",peer,topic,direction} / {"type":"prune",...}   (gossipsub mesh changes)
//       {"type":"message",from,topic,data}   (data as UTF-8)
//       {"type":"mesh",peers}   (after a heartbeat that changed the mesh)
//       {"type":"published",data,recipients}   {"type":"error",message}
//     Once its mesh is non-empty it publishes "from-js <n>" every 500 ms (n = 1, 2, ...), so the
//     other side can see delivery without a command channel. Exits when stdin closes.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const [topic, dialAddr] = process.argv.slice(2)

try {
  if (!topic) throw new Error('usage: js_gossip_peer.mjs <topic> [dial-multiaddr]')
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // StrictSign is the default signature policy, as ours.
    services: { identify: identify(), pubsub: gossipsub({ heartbeatInterval: 500 }) }
  })
  const ps = node.services.pubsub
  const dec = new TextDecoder()
  node.addEventListener('peer:connect', (e) => out({ type: 'connect', peer: e.detail.toString() }))
  for (const kind of ['graft', 'prune']) {
    ps.addEventListener(`gossipsub:${kind}`, (e) => out({
      type: kind, peer: e.detail.peerId.toString(), topic: e.detail.topic, direction: e.detail.direction
    }))
  }
  ps.addEventListener('message', (e) => out({
    type: 'message', from: e.detail.from?.toString(), topic: e.detail.topic, data: dec.decode(e.detail.data)
  }))
  ps.subscribe(topic)
  out({ type: 'listening', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()) })
  if (dialAddr) await node.dial(multiaddr(dialAddr))

  let lastMesh = '[]'
  ps.addEventListener('gossipsub:heartbeat', () => {
    const peers = ps.getMeshPeers(topic).map(p => p.toString()).sort()
    if (JSON.stringify(peers) !== lastMesh) {
      lastMesh = JSON.stringify(peers)
      out({ type: 'mesh', peers })
    }
  })
  let n = 0
  const timer = setInterval(async () => {
    if (ps.getMeshPeers(topic).length === 0) return
    const data = `from-js ${++n}`
    try {
      const r = await ps.publish(topic, new TextEncoder().encode(data))
      out({ type: 'published', data, recipients: r.recipients.map(p => p.toString()) })
    } catch (err) {
      out({ type: 'error', message: String(err?.message ?? err) })
    }
  }, 500)
  process.stdin.resume()
  process.stdin.on('end', async () => { clearInterval(timer); await node.stop(); process.exit(0) })
} catch (err) {
  out({ type: 'error', message: String(err?.stack ?? err) })
  process.exit(2)
}
