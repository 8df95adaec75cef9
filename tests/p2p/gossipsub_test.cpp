// gossipsub v1.1 between real Hosts on 127.0.0.1, all on one io_context: delivery (2, 10 and 30
// nodes, exactly once each), mesh degree bounds, validation and scoring, strict signing,
// content-addressed ids, and hostile RPCs from a hand-driven peer.
#include "p2p/gossipsub.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "crypto/hash.h"
#include "p2p/byte_stream.h"
#include "p2p/proto/rpc.pb.h"
#include "p2p/run.h"
#include "p2p/varint.h"

namespace ol::p2p::gossipsub {
namespace {

using namespace std::chrono_literals;
using test::run;

const std::string kTopic = "openliquid/test/1.0.0";

std::string str(ByteView b) {
  return std::string(b.begin(), b.end());
}
Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
std::vector<std::string> protos(std::string_view p) {
  return std::vector<std::string>(1, std::string(p));
}

// A validly signed message by `author` (tests alter it to make it invalid).
proto::Message signed_message(const Identity& author, const std::string& topic,
                              const std::string& data, std::uint64_t seq) {
  Bytes seqno(8);
  for (int i = 0; i < 8; ++i) seqno[i] = static_cast<std::uint8_t>(seq >> (8 * (7 - i)));
  proto::Message m;
  m.set_from(str(author.peer_id.bytes()));
  m.set_data(data);
  m.set_seqno(str(seqno));
  m.set_topic(topic);
  const auto sig =
      author.key.sign(signing_input(author.peer_id.bytes(), bytes(data), seqno, topic));
  m.set_signature(std::string(sig.bytes.begin(), sig.bytes.end()));
  return m;
}

Bytes framed(const std::string& body) {
  Bytes out;
  put_uvarint(out, body.size());
  append(out, as_bytes(body));
  return out;
}

struct Node {
  std::shared_ptr<Host> host;
  std::shared_ptr<Gossipsub> gs;
  std::vector<Message> received;  // on every topic, in order
  Multiaddr addr;

  std::size_t count(const std::string& data) const {
    return static_cast<std::size_t>(std::count_if(
        received.begin(), received.end(), [&](const Message& m) { return str(m.data) == data; }));
  }
};

// A peer driven by hand: a plain Host that writes raw RPC bytes on a meshsub stream and records
// the RPCs the node under test sends it.
struct RawPeer {
  Identity identity = Identity::generate();
  std::shared_ptr<Host> host;
  Host::StreamPtr out;
  std::vector<proto::RPC> received;
  std::size_t iwant_ids = 0;
};

class GossipsubTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }

  void TearDown() override {
    for (auto& n : nodes) n->gs->stop();
    for (auto& n : nodes) n->host->close();
    for (auto& r : raws) r->host->close();
    // Let every connection finish closing (sessions and hosts reference each other until then).
    wait_for(
        [&] {
          for (auto& n : nodes) {
            if (n->host->connection_count() > 0) return false;
          }
          for (auto& r : raws) {
            if (r->host->connection_count() > 0) return false;
          }
          return true;
        },
        20s);
    io.run_for(200ms);
  }

  Node& make_node(Config cfg = fast()) {
    auto n = std::make_unique<Node>();
    HostConfig hc;
    hc.max_peers = 128;
    hc.max_inbound = 128;
    hc.max_outbound = 128;
    const Identity id = Identity::generate();
    n->host = Host::create(io, id, hc);
    n->addr = n->host->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"))
                  ->with_peer_id(n->host->peer_id());
    n->gs = Gossipsub::create(n->host, id, cfg);
    n->gs->start();
    nodes.push_back(std::move(n));
    return *nodes.back();
  }

  static Config fast() {
    Config c;
    c.heartbeat = 100ms;
    return c;
  }

  void subscribe(Node& n, const std::string& topic = kTopic) {
    n.gs->subscribe(topic, [&n](const Message& m) { n.received.push_back(m); });
  }

  void connect(Node& a, Node& b) {
    auto r = run(io, a.host->dial(b.addr));
    ASSERT_TRUE(r.ok()) << r.error().to_string();
  }

  // Runs the io_context (blocking in the reactor, never spinning) until `done` or the deadline.
  template <typename Pred>
  bool wait_for(Pred done, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      io.run_for(20ms);
    }
    return true;
  }

  RawPeer& make_raw(std::string_view protocol = kProtocolV11) {
    auto r = std::make_unique<RawPeer>();
    r->host = Host::create(io, r->identity);
    RawPeer* rp = r.get();
    // Record what the node sends us on its outbound stream.
    auto reader = [rp](Host::StreamPtr s) -> Task<void> {
      for (;;) {
        auto body = co_await read_length_prefixed(*s, 64 << 20);
        if (!body) co_return;
        proto::RPC rpc;
        if (!rpc.ParseFromArray(body->data(), static_cast<int>(body->size()))) co_return;
        for (const auto& iw : rpc.control().iwant())
          rp->iwant_ids += static_cast<std::size_t>(iw.messageids_size());
        rp->received.push_back(std::move(rpc));
      }
    };
    r->host->set_handler(std::string(protocol), reader);
    raws.push_back(std::move(r));
    return *raws.back();
  }

  // Dials `n` and opens a meshsub stream to it.
  void raw_connect(RawPeer& r, Node& n) {
    auto peer = run(io, r.host->dial(n.addr));
    ASSERT_TRUE(peer.ok()) << peer.error().to_string();
    auto s = run(io, r.host->new_stream(*peer, protos(kProtocolV11)));
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    r.out = *s;
  }

  Status raw_send(RawPeer& r, const Bytes& wire) { return run(io, r.out->write(wire)); }

  Status raw_send(RawPeer& r, const proto::RPC& rpc) {
    return raw_send(r, framed(rpc.SerializeAsString()));
  }

  static proto::RPC subscription(const std::string& topic) {
    proto::RPC rpc;
    auto* s = rpc.add_subscriptions();
    s->set_subscribe(true);
    s->set_topicid(topic);
    return rpc;
  }

  // True once the node has reset the raw peer's stream (reading it fails or ends).
  bool stream_closed(RawPeer& r) {
    return wait_for([&] { return r.out->is_reset(); }, 10s);
  }

  // Meshes formed: every subscriber has at least `min` mesh peers.
  bool meshes_formed(std::size_t min, const std::string& topic = kTopic) {
    return wait_for([&] {
      for (auto& n : nodes) {
        if (n->gs->mesh_peers(topic).size() < min) return false;
      }
      return true;
    });
  }

  asio::io_context io;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::unique_ptr<RawPeer>> raws;
};

TEST_F(GossipsubTest, TwoNodesDeliverBothWays) {
  Node& a = make_node();
  Node& b = make_node();
  subscribe(a);
  subscribe(b);
  connect(a, b);
  ASSERT_TRUE(meshes_formed(1));
  EXPECT_GE(a.gs->stats().grafts_in + a.gs->stats().grafts_out, 1u);

  auto id = a.gs->publish(kTopic, bytes("from a"));
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  ASSERT_TRUE(wait_for([&] { return b.count("from a") == 1; }));
  const Message& got = b.received.back();
  EXPECT_EQ(got.topic, kTopic);
  EXPECT_EQ(got.from, a.host->peer_id());
  EXPECT_EQ(got.received_from, a.host->peer_id());
  EXPECT_EQ(got.seqno.size(), 8u);
  EXPECT_EQ(got.id, *id);
  EXPECT_EQ(got.id, concat(a.host->peer_id().bytes(), got.seqno));  // default id: from+seqno

  ASSERT_TRUE(b.gs->publish(kTopic, bytes("from b")).ok());
  ASSERT_TRUE(wait_for([&] { return a.count("from b") == 1; }));
  // Our own messages reach our own handler once, too.
  EXPECT_EQ(a.count("from a"), 1u);
  EXPECT_EQ(b.count("from b"), 1u);
  io.run_for(300ms);
  EXPECT_EQ(a.received.size(), 2u);
  EXPECT_EQ(b.received.size(), 2u);
}

// Every subscriber gets every message exactly once, through a sparse topology where most pairs
// are not directly connected.
TEST_F(GossipsubTest, TenNodeClusterDeliversEachMessageExactlyOnce) {
  for (int i = 0; i < 10; ++i) subscribe(make_node());
  // A ring plus chords: every node has degree 4, diameter small but > 1.
  for (int i = 0; i < 10; ++i) {
    connect(*nodes[i], *nodes[(i + 1) % 10]);
    connect(*nodes[i], *nodes[(i + 3) % 10]);
  }
  ASSERT_TRUE(meshes_formed(2));
  for (int p = 0; p < 10; p += 3) {
    for (int k = 0; k < 5; ++k)
      ASSERT_TRUE(
          nodes[p]
              ->gs->publish(kTopic, bytes("m" + std::to_string(p) + "-" + std::to_string(k)))
              .ok());
  }
  ASSERT_TRUE(wait_for([&] {
    for (auto& n : nodes) {
      if (n->received.size() < 20) return false;
    }
    return true;
  }));
  io.run_for(500ms);  // duplicates, if any, would arrive now
  for (auto& n : nodes) {
    std::map<std::string, int> seen;
    for (const auto& m : n->received) ++seen[str(m.data)];
    EXPECT_EQ(seen.size(), 20u);
    for (const auto& [d, c] : seen) EXPECT_EQ(c, 1) << d;
  }
}

// 30 nodes, each dialling the next 8 (degree 16, above D_hi): meshes settle within [D_lo, D_hi];
// without flood publishing every hop goes through the mesh.
TEST_F(GossipsubTest, ThirtyNodeClusterMeshWithinBoundsAndExactlyOnce) {
  Config cfg = fast();
  cfg.flood_publish = false;
  constexpr int kNodes = 30;
  for (int i = 0; i < kNodes; ++i) subscribe(make_node(cfg));
  for (int i = 0; i < kNodes; ++i) {
    for (int k = 1; k <= 8; ++k) connect(*nodes[i], *nodes[(i + k) % kNodes]);
  }
  const auto& c = nodes[0]->gs->config();
  ASSERT_TRUE(meshes_formed(c.d_lo));
  // Let several heartbeats settle grafts and prunes, then check the bounds hold everywhere.
  io.run_for(1s);
  ASSERT_TRUE(wait_for([&] {
    for (auto& n : nodes) {
      const auto m = n->gs->mesh_peers(kTopic).size();
      if (m < c.d_lo || m > c.d_hi) return false;
    }
    return true;
  }));
  for (auto& n : nodes) {
    const auto m = n->gs->mesh_peers(kTopic).size();
    EXPECT_GE(m, c.d_lo);
    EXPECT_LE(m, c.d_hi);
  }

  for (int p = 0; p < kNodes; p += 5) {
    ASSERT_TRUE(nodes[p]->gs->publish(kTopic, bytes("x" + std::to_string(p))).ok());
  }
  const std::size_t want = kNodes / 5;
  ASSERT_TRUE(wait_for([&] {
    for (auto& n : nodes) {
      if (n->received.size() < want) return false;
    }
    return true;
  }));
  io.run_for(500ms);
  for (auto& n : nodes) {
    std::map<std::string, int> seen;
    for (const auto& m : n->received) ++seen[str(m.data)];
    EXPECT_EQ(seen.size(), want);
    for (const auto& [d, cnt] : seen) EXPECT_EQ(cnt, 1) << d;
  }
}

// 20 leaves around one hub: every leaf's only candidate is the hub, so the hub's mesh would
// overflow D_hi; GRAFTs beyond it are answered with PRUNE (backoff + PX of other leaves).
TEST_F(GossipsubTest, OversubscribedMeshIsPrunedWithPeerExchange) {
  Node& hub = make_node();
  subscribe(hub);
  std::vector<Node*> leaves;
  std::size_t px_learned = 0;
  for (int i = 0; i < 20; ++i) {
    Node& leaf = make_node();
    subscribe(leaf);
    leaf.gs->on_peer_exchange([&](const std::vector<PeerId>& px) { px_learned += px.size(); });
    leaves.push_back(&leaf);
  }
  for (Node* leaf : leaves) connect(*leaf, hub);
  const auto& c = hub.gs->config();
  ASSERT_TRUE(wait_for([&] {
    std::size_t pruned = 0;
    for (Node* leaf : leaves) pruned += leaf->gs->stats().prunes_in;
    return pruned >= 20 - c.d_hi;
  }));
  EXPECT_LE(hub.gs->mesh_peers(kTopic).size(), c.d_hi);
  EXPECT_GE(hub.gs->mesh_peers(kTopic).size(), c.d_lo);
  EXPECT_GE(hub.gs->stats().prunes_out, 20 - c.d_hi);
  EXPECT_GT(px_learned, 0u);  // pruned leaves were told about other leaves
  // Pruned leaves still receive through the hub's gossip (IHAVE/IWANT) or flood publish.
  ASSERT_TRUE(hub.gs->publish(kTopic, bytes("to all leaves")).ok());
  ASSERT_TRUE(wait_for([&] {
    for (Node* leaf : leaves) {
      if (leaf->count("to all leaves") != 1) return false;
    }
    return true;
  }));
}

// a - b - c: b's validator rejects "bad"; c never sees it and b penalises a.
TEST_F(GossipsubTest, RejectedMessageIsNotForwardedAndPenalised) {
  Node& a = make_node();
  Node& b = make_node();
  Node& c = make_node();
  for (Node* n : {&a, &b, &c}) subscribe(*n);
  b.gs->set_validator(kTopic, [](const Message& m) {
    return str(m.data) == "bad" ? ValidationResult::reject : ValidationResult::accept;
  });
  connect(a, b);
  connect(b, c);
  ASSERT_TRUE(meshes_formed(1));

  ASSERT_TRUE(a.gs->publish(kTopic, bytes("bad")).ok());
  ASSERT_TRUE(wait_for([&] { return b.gs->stats().invalid == 1; }));
  EXPECT_LT(b.gs->score(a.host->peer_id()), 0.0);
  EXPECT_EQ(b.count("bad"), 0u);

  ASSERT_TRUE(a.gs->publish(kTopic, bytes("good")).ok());
  ASSERT_TRUE(wait_for([&] { return c.count("good") == 1; }));
  EXPECT_EQ(c.count("bad"), 0u);  // "bad" went first on the same path: it was never forwarded
  EXPECT_EQ(c.gs->stats().invalid, 0u);
}

TEST_F(GossipsubTest, UnsignedAndMisSignedMessagesAreRejected) {
  Node& n = make_node();
  subscribe(n);
  RawPeer& r = make_raw();
  raw_connect(r, n);
  ASSERT_TRUE(raw_send(r, subscription(kTopic)).ok());
  const Identity other = Identity::generate();

  std::vector<proto::Message> bad;
  bad.push_back(signed_message(r.identity, kTopic, "unsigned", 1));
  bad.back().clear_signature();
  auto wrong_key = signed_message(other, kTopic, "wrong key", 2);
  wrong_key.set_from(str(r.identity.peer_id.bytes()));  // signed by someone else
  bad.push_back(wrong_key);
  bad.push_back(signed_message(r.identity, kTopic, "tampered", 3));
  bad.back().set_data("tampered!");
  bad.push_back(signed_message(r.identity, kTopic, "short seqno", 4));
  bad.back().set_seqno("1234");
  bad.push_back(signed_message(r.identity, kTopic, "key mismatch", 5));
  bad.back().set_key(str(marshal_public_key(other.key.public_key())));
  bad.push_back(signed_message(r.identity, kTopic, "no from", 6));
  bad.back().clear_from();
  for (const auto& m : bad) {
    proto::RPC rpc;
    *rpc.add_publish() = m;
    ASSERT_TRUE(raw_send(r, rpc).ok());
  }
  proto::RPC good;
  *good.add_publish() = signed_message(r.identity, kTopic, "valid", 7);
  ASSERT_TRUE(raw_send(r, good).ok());

  ASSERT_TRUE(wait_for([&] { return n.count("valid") == 1; }));
  EXPECT_EQ(n.received.size(), 1u);
  EXPECT_EQ(n.gs->stats().invalid, bad.size());
  EXPECT_LT(n.gs->score(r.identity.peer_id), 0.0);
  // A forged copy never enters the seen-cache: the real message with the same from+seqno as
  // "tampered" still gets through.
  proto::RPC real;
  *real.add_publish() = signed_message(r.identity, kTopic, "tampered", 3);
  ASSERT_TRUE(raw_send(r, real).ok());
  ASSERT_TRUE(wait_for([&] { return n.count("tampered") == 1; }));
}

TEST_F(GossipsubTest, ContentAddressedTopicDeduplicatesPayloads) {
  const std::string topic = "openliquid/ca/1.0.0";
  Node& a = make_node();
  Node& b = make_node();
  for (Node* n : {&a, &b}) {
    n->gs->set_content_addressed(topic);
    subscribe(*n, topic);
  }
  connect(a, b);
  ASSERT_TRUE(meshes_formed(1, topic));
  auto id = a.gs->publish(topic, bytes("payload"));
  ASSERT_TRUE(id.ok());
  const Hash32 h = crypto::sha256(bytes("payload"));
  EXPECT_EQ(*id, Bytes(h.begin(), h.end()));
  auto again = a.gs->publish(topic, bytes("payload"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::state);
  ASSERT_TRUE(wait_for([&] { return b.count("payload") == 1; }));
  EXPECT_FALSE(b.gs->publish(topic, bytes("payload")).ok());  // b has seen it too

  // The same payload signed by a third author is the same message for b.
  RawPeer& r = make_raw();
  raw_connect(r, b);
  proto::RPC rpc;
  *rpc.add_publish() = signed_message(r.identity, topic, "payload", 99);
  ASSERT_TRUE(raw_send(r, rpc).ok());
  ASSERT_TRUE(wait_for([&] { return b.gs->stats().duplicates >= 1; }));
  io.run_for(200ms);
  EXPECT_EQ(b.count("payload"), 1u);
  // A different payload is a different message.
  ASSERT_TRUE(a.gs->publish(topic, bytes("other")).ok());
  ASSERT_TRUE(wait_for([&] { return b.count("other") == 1; }));

  // Duplicates are recognised by from+seqno before their data is hashed; a forged copy (same
  // from+seqno, other data, so a bad signature) does not shadow the real message.
  proto::RPC forged;
  *forged.add_publish() = signed_message(r.identity, topic, "real", 100);
  forged.mutable_publish(0)->set_data("forged");
  ASSERT_TRUE(raw_send(r, forged).ok());
  proto::RPC real;
  *real.add_publish() = signed_message(r.identity, topic, "real", 100);
  ASSERT_TRUE(raw_send(r, real).ok());
  ASSERT_TRUE(wait_for([&] { return b.count("real") == 1; }));
  const auto dups = b.gs->stats().duplicates;
  ASSERT_TRUE(raw_send(r, real).ok());
  ASSERT_TRUE(wait_for([&] { return b.gs->stats().duplicates == dups + 1; }));
  io.run_for(100ms);
  EXPECT_EQ(b.count("real"), 1u);
  EXPECT_EQ(b.count("forged"), 0u);
}

TEST_F(GossipsubTest, UnsignedTopicCarriesNoSignatureAndRejectsSignedMessages) {
  const std::string topic = "openliquid/unsigned/1.0.0";
  Node& a = make_node();
  Node& b = make_node();
  Node& c = make_node();
  for (Node* n : {&a, &b, &c}) {
    n->gs->set_unsigned(topic);
    subscribe(*n, topic);
    subscribe(*n);
  }
  connect(a, b);
  connect(b, c);
  ASSERT_TRUE(meshes_formed(1, topic));

  // Published without author, seqno or signature; the id is the data's SHA-256; b forwards it
  // to c; receivers see no author, the publisher sees itself.
  auto id = a.gs->publish(topic, bytes("self-authenticating"));
  ASSERT_TRUE(id.ok());
  const Hash32 h = crypto::sha256(bytes("self-authenticating"));
  EXPECT_EQ(*id, Bytes(h.begin(), h.end()));
  ASSERT_TRUE(wait_for([&] { return c.count("self-authenticating") == 1; }));
  EXPECT_EQ(b.count("self-authenticating"), 1u);
  EXPECT_TRUE(c.received.back().from.empty());
  EXPECT_EQ(c.received.back().received_from, b.host->peer_id());
  EXPECT_EQ(a.received.back().from, a.host->peer_id());
  EXPECT_FALSE(a.gs->publish(topic, bytes("self-authenticating")).ok());  // same content

  // A raw peer: a signed message on the unsigned topic, and an unsigned one on a signed topic,
  // are both rejected and penalised; a well-formed unsigned message is accepted.
  RawPeer& r = make_raw();
  raw_connect(r, c);
  ASSERT_TRUE(raw_send(r, subscription(topic)).ok());
  ASSERT_TRUE(raw_send(r, subscription(kTopic)).ok());
  const auto invalid_before = c.gs->stats().invalid;
  proto::RPC bad;
  *bad.add_publish() = signed_message(r.identity, topic, "signed on unsigned", 1);
  proto::Message half;  // unsigned but with a seqno
  half.set_topic(topic);
  half.set_data("half");
  half.set_seqno(std::string(8, '\x01'));
  *bad.add_publish() = half;
  proto::Message bare;
  bare.set_topic(kTopic);
  bare.set_data("unsigned on signed");
  *bad.add_publish() = bare;
  ASSERT_TRUE(raw_send(r, bad).ok());
  ASSERT_TRUE(wait_for([&] { return c.gs->stats().invalid == invalid_before + 3; }));
  EXPECT_LT(c.gs->score(r.identity.peer_id), 0.0);
  proto::RPC good;
  proto::Message plain;
  plain.set_topic(topic);
  plain.set_data("from the raw peer");
  *good.add_publish() = plain;
  ASSERT_TRUE(raw_send(r, good).ok());
  ASSERT_TRUE(wait_for([&] { return a.count("from the raw peer") == 1; }));  // via c and b
  io.run_for(100ms);
  EXPECT_EQ(c.count("signed on unsigned") + c.count("half") + c.count("unsigned on signed"), 0u);
  EXPECT_EQ(a.count("signed on unsigned") + b.count("signed on unsigned"), 0u);
  EXPECT_TRUE(check_rpc(as_bytes(good.SerializeAsString()), Config{}).ok());
}

TEST_F(GossipsubTest, MalformedAndOversizedRpcsCloseTheStreamOnly) {
  Node& n = make_node();
  Node& honest = make_node();
  subscribe(n);
  subscribe(honest);
  connect(honest, n);
  ASSERT_TRUE(meshes_formed(1));

  std::vector<Bytes> attacks;
  attacks.push_back(framed("\\xff\\xff\\xff garbage that is not protobuf"));
  attacks.push_back(Bytes{0x80, 0x80, 0x80, 0x04});  // 8 MiB: over max_rpc_size, no body sent
  attacks.push_back(Bytes(10, 0xff));                // not a varint
  {
    proto::RPC rpc;
    *rpc.add_publish() = signed_message(Identity::generate(), kTopic, std::string(2 << 20, 'x'), 1);
    attacks.push_back(framed(rpc.SerializeAsString()));  // message data over max_message_size
  }
  std::uint64_t dropped = 0;
  for (const auto& wire : attacks) {
    RawPeer& r = make_raw();
    raw_connect(r, n);
    (void)raw_send(r, wire);
    EXPECT_TRUE(stream_closed(r)) << "attack " << dropped;
    EXPECT_EQ(n.gs->stats().dropped_rpcs, ++dropped);
  }
  // The node is alive and delivering.
  ASSERT_TRUE(honest.gs->publish(kTopic, bytes("still here")).ok());
  ASSERT_TRUE(wait_for([&] { return n.count("still here") == 1; }));
}

TEST_F(GossipsubTest, MillionIhaveIdsCostBoundedWork) {
  Config cfg = fast();
  cfg.heartbeat = 1h;  // keep the per-heartbeat IHAVE budget from resetting mid-test
  Node& n = make_node(cfg);
  subscribe(n);
  RawPeer& r = make_raw();
  raw_connect(r, n);
  ASSERT_TRUE(raw_send(r, subscription(kTopic)).ok());
  ASSERT_TRUE(wait_for([&] { return n.gs->topic_peers(kTopic).size() == 1; }));

  auto ihave = [](int first, int count, const std::string& topic) {
    proto::RPC rpc;
    auto* ih = rpc.mutable_control()->add_ihave();
    ih->set_topicid(topic);
    for (int i = first; i < first + count; ++i) {
      std::string id(8, '\0');
      for (int b = 0; b < 4; ++b) id[b] = static_cast<char>(i >> (8 * b));
      ih->add_messageids(id);
    }
    return rpc;
  };
  const auto start = Clock::now();
  // One RPC naming a million (2-byte) ids fits max_rpc_size but not the id bound: dropped
  // before parsing, stream closed.
  {
    proto::RPC rpc;
    auto* ih = rpc.mutable_control()->add_ihave();
    ih->set_topicid(kTopic);
    for (int i = 0; i < 1'000'000; ++i) ih->add_messageids(std::string{char(i), char(i >> 8)});
    ASSERT_LE(rpc.ByteSizeLong(), n.gs->config().max_rpc_size);
    (void)raw_send(r, rpc);
    EXPECT_TRUE(stream_closed(r));
    EXPECT_EQ(n.gs->stats().dropped_rpcs, 1u);
  }
  // A million ids spread over 25 acceptable RPCs: IWANTs stay within the per-heartbeat budget.
  raw_connect(r, n);
  for (int k = 0; k < 25; ++k) ASSERT_TRUE(raw_send(r, ihave(k * 40'000, 40'000, kTopic)).ok());
  // Ids on a topic we do not subscribe to are ignored.
  ASSERT_TRUE(raw_send(r, ihave(0, 40'000, "unknown/topic")).ok());
  ASSERT_TRUE(wait_for([&] { return n.gs->stats().ihave_in >= 26; }));
  io.run_for(300ms);
  const auto elapsed = Clock::now() - start;
  EXPECT_GT(r.iwant_ids, 0u);
  EXPECT_LE(r.iwant_ids, n.gs->config().max_ihave_length);
  EXPECT_LT(elapsed, 60s);  // generous (sanitizer builds): the point is no super-linear blow-up
  EXPECT_EQ(n.gs->stats().dropped_rpcs, 1u);
}

TEST_F(GossipsubTest, CheckRpcNamesTheViolatedBound) {
  Config c;
  EXPECT_TRUE(check_rpc({}, c).ok());
  proto::RPC ok = subscription(kTopic);
  *ok.add_publish() = signed_message(Identity::generate(), kTopic, "hi", 1);
  EXPECT_TRUE(check_rpc(as_bytes(ok.SerializeAsString()), c).ok());

  proto::RPC forged = ok;
  forged.mutable_publish(0)->set_data("changed");
  EXPECT_EQ(check_rpc(as_bytes(forged.SerializeAsString()), c).error().code, Errc::verify);

  Config small;
  small.max_rpc_size = 10;
  auto big = check_rpc(as_bytes(ok.SerializeAsString()), small);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("rpc size"), std::string::npos) << big.error().message;

  const Bytes junk = {0x0a, 0xff};
  EXPECT_EQ(check_rpc(junk, c).error().code, Errc::decode);
}

TEST_F(GossipsubTest, PruneWithPeerExchangeReachesTheHandler) {
  Node& n = make_node();
  subscribe(n);
  std::vector<PeerId> learned;
  n.gs->on_peer_exchange(
      [&](const std::vector<PeerId>& px) { learned.insert(learned.end(), px.begin(), px.end()); });
  RawPeer& r = make_raw();
  raw_connect(r, n);
  ASSERT_TRUE(raw_send(r, subscription(kTopic)).ok());
  const PeerId stranger = Identity::generate().peer_id;
  proto::RPC rpc;
  auto* pr = rpc.mutable_control()->add_prune();
  pr->set_topicid(kTopic);
  pr->set_backoff(60);
  pr->add_peers()->set_peerid(str(stranger.bytes()));
  pr->add_peers()->set_peerid("not a peer id");
  ASSERT_TRUE(raw_send(r, rpc).ok());
  ASSERT_TRUE(wait_for([&] { return !learned.empty(); }));
  ASSERT_EQ(learned.size(), 1u);
  EXPECT_EQ(learned[0], stranger);
  EXPECT_EQ(n.gs->stats().prunes_in, 1u);
}

// A connected peer whose outbound meshsub stream dies (here: the peer resets the first one)
// gets a new stream from the heartbeat, and our messages reach it again.
TEST_F(GossipsubTest, ResetOutboundStreamIsReopenedWhileConnected) {
  Node& n = make_node();
  subscribe(n);
  RawPeer& r = make_raw();
  RawPeer* rp = &r;
  std::size_t streams = 0;
  r.host->set_handler(std::string(kProtocolV11), [rp, &streams](Host::StreamPtr s) -> Task<void> {
    if (++streams == 1) {
      s->reset();
      co_return;
    }
    for (;;) {
      auto body = co_await read_length_prefixed(*s, 64 << 20);
      if (!body) co_return;
      proto::RPC rpc;
      if (!rpc.ParseFromArray(body->data(), static_cast<int>(body->size()))) co_return;
      rp->received.push_back(std::move(rpc));
    }
  });
  raw_connect(r, n);
  ASSERT_TRUE(raw_send(r, subscription(kTopic)).ok());
  ASSERT_TRUE(wait_for([&] { return streams >= 2; }, 10s)) << "no new outbound stream";
  ASSERT_TRUE(wait_for([&] { return n.gs->topic_peers(kTopic).size() == 1; }, 10s));
  ASSERT_TRUE(n.gs->publish(kTopic, bytes("after the reset")).ok());
  EXPECT_TRUE(wait_for(
      [&] {
        for (const auto& rpc : r.received) {
          for (const auto& m : rpc.publish()) {
            if (m.data() == "after the reset") return true;
          }
        }
        return false;
      },
      10s));
  EXPECT_EQ(streams, 2u);
}

// ---- repair of messages that crossed a link before it joined the mesh
//
// Nodes with no heartbeat during the test (first and later ones 10 minutes away), so meshes only
// change through subscribe() and GRAFT: a message crosses a link, then the link joins the mesh.
// Without the IHAVE sent on joining a mesh, the late peer would never get the message (it was not
// forwarded to it, and heartbeat gossip skips mesh peers).
class GossipsubMeshJoinTest : public GossipsubTest {
 protected:
  static Config quiet() {
    Config c;
    c.heartbeat = 600s;
    c.first_heartbeat = 600s;
    return c;
  }
  // `n` knows `peer` subscribes to kTopic (its stream is up and the subscription arrived).
  bool knows_subscribed(Node& n, Node& peer) {
    return wait_for([&] {
      const auto v = n.gs->topic_peers(kTopic);
      return std::find(v.begin(), v.end(), peer.host->peer_id()) != v.end();
    });
  }
  bool in_mesh(Node& n, Node& peer) {
    const auto v = n.gs->mesh_peers(kTopic);
    return std::find(v.begin(), v.end(), peer.host->peer_id()) != v.end();
  }
};

// a - b - c. a publishes while b's mesh is empty; c subscribes afterwards and GRAFTs b: b accepts
// and advertises its gossip window, so c fetches the message (exactly once).
TEST_F(GossipsubMeshJoinTest, AcceptedGraftAdvertisesMessagesTheJoinerMissed) {
  Node& a = make_node(quiet());
  Node& b = make_node(quiet());
  Node& c = make_node(quiet());
  subscribe(a);
  subscribe(b);
  connect(a, b);
  connect(b, c);
  ASSERT_TRUE(knows_subscribed(a, b));
  ASSERT_TRUE(knows_subscribed(b, a));
  ASSERT_TRUE(knows_subscribed(c, b));
  ASSERT_TRUE(b.gs->mesh_peers(kTopic).empty());
  ASSERT_TRUE(a.gs->publish(kTopic, bytes("early")).ok());
  ASSERT_TRUE(wait_for([&] { return b.count("early") == 1; }));
  EXPECT_TRUE(b.gs->mesh_peers(kTopic).empty());  // so b forwarded it to nobody

  subscribe(c);  // GRAFTs b (c's only subscribed peer)
  ASSERT_TRUE(wait_for([&] { return c.count("early") == 1; }, 10s))
      << "the message that crossed a-b before b-c joined the mesh never reached c";
  io.run_for(300ms);
  EXPECT_EQ(c.count("early"), 1u);
  EXPECT_TRUE(in_mesh(b, c) && in_mesh(c, b));
  EXPECT_GE(b.gs->stats().iwant_in, 1u);
  EXPECT_GE(c.gs->stats().iwant_out, 1u);
}

// a - c - b. a's message reaches c while c's mesh is empty; c then rejoins the topic and GRAFTs
// a and b with its gossip window, so b fetches the message; a, which has it, asks for nothing.
TEST_F(GossipsubMeshJoinTest, OwnGraftAdvertisesMessagesTheGraftedPeerMissed) {
  Node& a = make_node(quiet());
  Node& b = make_node(quiet());
  Node& c = make_node(quiet());
  subscribe(a);
  subscribe(b);
  subscribe(c);
  connect(a, c);
  connect(c, b);
  ASSERT_TRUE(knows_subscribed(a, c));
  ASSERT_TRUE(knows_subscribed(c, a));
  ASSERT_TRUE(knows_subscribed(c, b));
  ASSERT_TRUE(knows_subscribed(b, c));
  ASSERT_TRUE(c.gs->mesh_peers(kTopic).empty());
  ASSERT_TRUE(a.gs->publish(kTopic, bytes("early")).ok());
  ASSERT_TRUE(wait_for([&] { return c.count("early") == 1; }));
  io.run_for(200ms);
  EXPECT_EQ(b.count("early"), 0u);  // c's mesh was empty: not forwarded

  c.gs->unsubscribe(kTopic);
  subscribe(c);  // GRAFTs a and b
  ASSERT_TRUE(wait_for([&] { return b.count("early") == 1; }, 10s))
      << "the message c had before grafting b never reached b";
  io.run_for(300ms);
  EXPECT_EQ(b.count("early"), 1u);
  EXPECT_EQ(c.count("early"), 1u);
  EXPECT_EQ(a.gs->stats().iwant_out, 0u);
  EXPECT_EQ(b.gs->stats().iwant_out, 1u);
}

// The heartbeat's own GRAFTs: a - b - c subscribed and linked before the first heartbeat (5 s
// away); a publishes, b forwards to nobody; the first heartbeats graft the links and c still gets
// the message. Skipped if the machine was so slow that a heartbeat came before the publish.
TEST_F(GossipsubMeshJoinTest, HeartbeatGraftAdvertisesMessagesTheGraftedPeerMissed) {
  Config cfg = quiet();
  cfg.first_heartbeat = 5s;
  Node& a = make_node(cfg);
  Node& b = make_node(cfg);
  Node& c = make_node(cfg);
  for (Node* n : {&a, &b, &c}) subscribe(*n);
  connect(a, b);
  connect(b, c);
  ASSERT_TRUE(knows_subscribed(a, b));
  ASSERT_TRUE(knows_subscribed(b, a));
  ASSERT_TRUE(knows_subscribed(b, c));
  ASSERT_TRUE(knows_subscribed(c, b));
  if (!b.gs->mesh_peers(kTopic).empty() || !c.gs->mesh_peers(kTopic).empty())
    GTEST_SKIP() << "a heartbeat ran before the publish";
  ASSERT_TRUE(a.gs->publish(kTopic, bytes("early")).ok());
  ASSERT_TRUE(wait_for([&] { return b.count("early") == 1; }));
  if (!b.gs->mesh_peers(kTopic).empty()) GTEST_SKIP() << "a heartbeat ran before b forwarded";
  ASSERT_TRUE(wait_for([&] { return c.count("early") == 1; }, 20s))
      << "the heartbeat grafted b-c but c never got the message";
  io.run_for(300ms);
  EXPECT_EQ(c.count("early"), 1u);
  EXPECT_TRUE(in_mesh(b, c) || in_mesh(c, b));
}

// v1.2: a node that first receives a large message sends IDONTWANT for it to its v1.2 mesh peers
// (not to v1.1 ones), and does not forward a message to a peer that sent IDONTWANT for its id.
TEST_F(GossipsubTest, IdontwantIsSentToV12MeshPeersAndHonoured) {
  const std::string topic = "openliquid/ca/1.0.0";
  Node& n = make_node();
  Node& b = make_node();
  for (Node* x : {&n, &b}) {
    x->gs->set_content_addressed(topic);
    subscribe(*x, topic);
  }
  connect(b, n);
  RawPeer& r12 = make_raw(kProtocolV12);
  RawPeer& r11 = make_raw(kProtocolV11);
  proto::RPC join = subscription(topic);
  join.mutable_control()->add_graft()->set_topicid(topic);
  auto in_mesh = [&](const RawPeer& r) {
    const auto m = n.gs->mesh_peers(topic);
    return std::find(m.begin(), m.end(), r.identity.peer_id) != m.end();
  };
  for (RawPeer* r : {&r12, &r11}) {
    raw_connect(*r, n);
    // GRAFT until accepted (n needs its outbound stream to the peer first).
    ASSERT_TRUE(wait_for([&] {
      if (in_mesh(*r)) return true;
      EXPECT_TRUE(raw_send(*r, join).ok());
      io.run_for(50ms);
      return in_mesh(*r);
    })) << "raw peer not grafted";
  }
  ASSERT_TRUE(wait_for([&] {
    const auto m = n.gs->mesh_peers(topic);
    return std::find(m.begin(), m.end(), b.host->peer_id()) != m.end();
  }));
  auto got_data = [](const RawPeer& r, const std::string& data) {
    for (const auto& rpc : r.received) {
      for (const auto& m : rpc.publish()) {
        if (m.data() == data) return true;
      }
    }
    return false;
  };
  auto got_idontwant = [](const RawPeer& r, const std::string& id) {
    for (const auto& rpc : r.received) {
      for (const auto& d : rpc.control().idontwant()) {
        for (const auto& x : d.messageids()) {
          if (x == id) return true;
        }
      }
    }
    return false;
  };
  auto id_of = [](const std::string& data) {
    const Hash32 h = crypto::sha256(bytes(data));
    return std::string(h.begin(), h.end());
  };

  const std::string big1(16 * 1024, 'a'), big2(16 * 1024, 'b'), big3(16 * 1024, 'c');
  ASSERT_TRUE(b.gs->publish(topic, bytes(big1)).ok());
  ASSERT_TRUE(wait_for([&] { return got_data(r12, big1) && got_data(r11, big1); }));
  EXPECT_TRUE(got_idontwant(r12, id_of(big1)));
  EXPECT_FALSE(got_idontwant(r11, id_of(big1)));  // v1.1 peers get no IDONTWANT
  EXPECT_GE(n.gs->stats().idontwant_out, 1u);

  // r12 says it does not want big2: n forwards big2 to r11 only, then big3 to both.
  proto::RPC dont;
  dont.mutable_control()->add_idontwant()->add_messageids(id_of(big2));
  ASSERT_TRUE(raw_send(r12, dont).ok());
  ASSERT_TRUE(wait_for([&] { return n.gs->stats().idontwant_in >= 1; }));
  ASSERT_TRUE(b.gs->publish(topic, bytes(big2)).ok());
  ASSERT_TRUE(b.gs->publish(topic, bytes(big3)).ok());
  ASSERT_TRUE(wait_for([&] { return got_data(r12, big3) && got_data(r11, big3); }));
  EXPECT_FALSE(got_data(r12, big2));
  EXPECT_TRUE(got_data(r11, big2));
  EXPECT_EQ(n.gs->stats().idontwant_skipped, 1u);
}

// v1.1 direct peers: the raw peer r is a direct peer of n. n never meshes with it (r's GRAFT gets
// PRUNE, n's heartbeats do not graft it) but every message on the topic goes to it: b's message
// reaches r through n, and r's own message reaches b through n.
TEST_F(GossipsubTest, DirectPeersGetEveryMessageWithoutJoiningTheMesh) {
  const Identity n_id = Identity::generate();
  RawPeer& r = make_raw();
  Config nc = fast();
  nc.direct_peers = {r.identity.peer_id};
  // n, with the raw peer r as a direct peer; b an ordinary peer of n.
  auto nn = std::make_unique<Node>();
  {
    HostConfig hc;
    nn->host = Host::create(io, n_id, hc);
    nn->addr = nn->host->listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0"))
                   ->with_peer_id(nn->host->peer_id());
    nn->gs = Gossipsub::create(nn->host, n_id, nc);
    nn->gs->start();
    nodes.push_back(std::move(nn));
  }
  Node& n = *nodes.back();
  Node& b = make_node();
  subscribe(n);
  subscribe(b);
  connect(b, n);
  ASSERT_TRUE(meshes_formed(1));
  raw_connect(r, n);
  proto::RPC join = subscription(kTopic);
  join.mutable_control()->add_graft()->set_topicid(kTopic);
  ASSERT_TRUE(raw_send(r, join).ok());
  auto pruned = [&] {
    for (const auto& rpc : r.received) {
      for (const auto& pr : rpc.control().prune()) {
        if (pr.topicid() == kTopic) return true;
      }
    }
    return false;
  };
  // n's outbound stream to r may come after the GRAFT: GRAFT again until n answers.
  ASSERT_TRUE(wait_for([&] {
    if (pruned()) return true;
    EXPECT_TRUE(raw_send(r, join).ok());
    io.run_for(50ms);
    return pruned();
  })) << "no PRUNE for a direct peer's GRAFT";
  io.run_for(300ms);  // a few heartbeats: n never grafts r
  const auto mesh = n.gs->mesh_peers(kTopic);
  EXPECT_EQ(std::find(mesh.begin(), mesh.end(), r.identity.peer_id), mesh.end());
  EXPECT_EQ(n.gs->stats().grafts_out, b.gs->stats().grafts_in);  // n grafted b only
  auto got = [&](const std::string& data) {
    for (const auto& rpc : r.received) {
      for (const auto& m : rpc.publish()) {
        if (m.data() == data) return true;
      }
    }
    return false;
  };
  // b's message reaches r (not in any mesh) through n.
  ASSERT_TRUE(b.gs->publish(kTopic, bytes("to the direct peer")).ok());
  ASSERT_TRUE(wait_for([&] { return got("to the direct peer"); }, 10s));
  // r's message is accepted by n and forwarded to b.
  proto::RPC own;
  *own.add_publish() = signed_message(r.identity, kTopic, "from the direct peer", 1);
  ASSERT_TRUE(raw_send(r, own).ok());
  ASSERT_TRUE(wait_for([&] { return b.count("from the direct peer") == 1; }, 10s));
  EXPECT_EQ(n.count("from the direct peer"), 1u);
}

TEST(GossipsubSeenCache, ExpiresByTimeAndBoundsEntries) {
  SeenCache c(std::chrono::milliseconds(1000), 3);
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.insert("a", t0));
  EXPECT_FALSE(c.insert("a", t0));
  EXPECT_TRUE(c.insert("b", t0 + 10ms));
  EXPECT_TRUE(c.insert("c", t0 + 20ms));
  EXPECT_TRUE(c.insert("d", t0 + 30ms));  // over 3 entries: "a" goes
  EXPECT_FALSE(c.contains("a"));
  EXPECT_TRUE(c.contains("b") && c.contains("c") && c.contains("d"));
  c.expire(t0 + 1015ms);
  EXPECT_FALSE(c.contains("b"));
  EXPECT_TRUE(c.contains("c"));
  c.expire(t0 + 2s);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace ol::p2p::gossipsub
