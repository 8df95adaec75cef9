// The node's small parts: config options of this issue, metrics text, transaction status book,
// benchmark command pool and commit log, event queue, URL parsing, resolving the transactions of
// a sync response.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "crypto/secp256k1.h"
#include "mempool/mempool.h"
#include "node/command_pool.h"
#include "node/config.h"
#include "node/core.h"
#include "node/event_queue.h"
#include "node/http_client.h"
#include "node/metrics.h"
#include "node/rpc_server.h"
#include "node/signing_journal.h"
#include "node/tx_status.h"
#include "support/temp_dir.h"
#include "types/transaction.h"

namespace ol::node {
namespace {

TEST(NodeConfigPayload, CommandsModeIsStrict) {
  auto c = parse_config("[consensus]\npayload = \"commands\"\n");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->consensus.payload, "commands");
  EXPECT_EQ(parse_config("").value().consensus.payload, "transactions");
  auto bad = parse_config("[consensus]\npayload = \"command\"\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("consensus.payload"), std::string::npos);
  EXPECT_FALSE(parse_config("[consensus]\npayload = 3\n").ok());
  // The empty-block wait must stay below the round timeout, or idle leaders would be timed out.
  EXPECT_FALSE(parse_config("[consensus]\nempty_block_wait_ms = 1000\n").ok());
  EXPECT_TRUE(parse_config("[consensus]\nempty_block_wait_ms = 0\n").ok());
  NodeConfig written;
  written.consensus.payload = "commands";
  written.consensus.empty_block_wait_ms = 7;
  auto back = parse_config(written.to_toml());
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->consensus.payload, "commands");
  EXPECT_EQ(back->consensus.empty_block_wait_ms, 7u);
}

TEST(NodeSigningJournal, AppendsOneLinePerSignedMessageAcrossReopens) {
  ol::testing::TempDir dir("journal");
  const auto path = dir.path() / "signing.journal";
  EXPECT_FALSE(parse_config("").value().signing_journal);
  auto on = parse_config("signing_journal = true\n");
  ASSERT_TRUE(on.ok()) << on.error().to_string();
  EXPECT_TRUE(on->signing_journal);
  EXPECT_TRUE(parse_config(on->to_toml()).value().signing_journal);

  types::Vote vote;
  vote.round = 7;
  vote.block_id[0] = 0xab;
  consensus::TimeoutMsg timeout;
  timeout.timeout.round = 9;
  timeout.timeout.high_qc.round = 6;
  {
    auto j = SigningJournal::open(path);
    ASSERT_TRUE(j.ok()) << j.error().to_string();
    ASSERT_TRUE(j->record(consensus::Message{vote}).ok());
    ASSERT_TRUE(j->record(consensus::Message{consensus::SyncRequest{}}).ok());  // not signed
  }
  {
    auto j = SigningJournal::open(path);  // a restart appends
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE(j->record(consensus::Message{timeout}).ok());
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "vote 7 " + to_hex(vote.block_id) + "\ntimeout 9 6\n");
  EXPECT_FALSE(SigningJournal::open(dir.path() / "missing" / "x").ok());
}

TEST(NodeMetrics, PrometheusTextHasEveryDocumentedMetric) {
  Metrics m;
  m.height = 12;
  m.commits_total = 12;
  m.commit_latency.observe(0.004);
  m.commit_latency.observe(0.2);
  m.commit_latency.observe(100);
  MetricGauges g;
  g.mempool_size = 3;
  g.net_bytes_in = 99;
  g.memtable_bytes = 4096;
  const std::string text = m.render(g);
  for (const char* name : {"openliquid_height 12",
                           "openliquid_round ",
                           "openliquid_commits_total 12",
                           "openliquid_timeouts_total ",
                           "openliquid_rounds_total ",
                           "# TYPE openliquid_commit_latency_seconds histogram",
                           "openliquid_commit_latency_seconds_bucket{le=\"0.005\"} 1",
                           "openliquid_commit_latency_seconds_bucket{le=\"0.25\"} 2",
                           "openliquid_commit_latency_seconds_bucket{le=\"30\"} 2",
                           "openliquid_commit_latency_seconds_bucket{le=\"+Inf\"} 3",
                           "openliquid_commit_latency_seconds_count 3",
                           "openliquid_commit_latency_seconds_sum ",
                           "openliquid_mempool_size 3",
                           "openliquid_peers 0",
                           "openliquid_validator_peers 0",
                           "openliquid_partitioned 0",
                           "openliquid_net_messages_total{direction=\"in\"} 0",
                           "openliquid_net_messages_total{direction=\"out\"} 0",
                           "openliquid_net_bytes_total{direction=\"in\"} 99",
                           "openliquid_net_bytes_total{direction=\"out\"} 0",
                           "openliquid_txs_committed_total 0",
                           "openliquid_tx_rejected_total 0",
                           "openliquid_tx_gossip_shed_total 0",
                           "openliquid_tx_busy_total 0",
                           "openliquid_mempool_future 0",
                           "openliquid_storage_memtable_bytes 4096",
                           "openliquid_tx_expired_total 0",
                           "openliquid_rpc_connections 0",
                           "openliquid_rpc_refused_total 0",
                           "openliquid_rpc_accept_errors_total 0",
                           "openliquid_rpc_offloaded_txs_total 0",
                           "openliquid_tx_signature_checks_total "}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
  // Every sample line is "name{labels} value" and every family has HELP and TYPE.
  EXPECT_EQ(text.back(), '\n');
}

Hash32 h(std::uint8_t b) {
  Hash32 x{};
  x[0] = b;
  x[31] = b;
  return x;
}

TEST(NodeTxStatusBook, KeepsTheMostRecentRejectionsAndForgetsTheLeastRecent) {
  TxStatusBook book(2);
  book.reject(h(1), "nonce too low");
  book.reject(h(2), "insufficient balance");
  book.rejection(h(1));               // a read does not count as use
  book.reject(h(1), "mempool full");  // an update does, and replaces the reason
  book.reject(h(3), "bad signature");
  EXPECT_EQ(book.size(), 2u);
  EXPECT_FALSE(book.rejection(h(2)).has_value());
  EXPECT_EQ(book.rejection(h(1)), "mempool full");
  EXPECT_EQ(book.rejection(h(3)), "bad signature");
  EXPECT_FALSE(book.rejection(h(4)).has_value());
  EXPECT_EQ(std::string(to_string(TxState::failed)), "failed");
}

Bytes commands(std::initializer_list<std::uint8_t> ids, std::size_t size) {
  Bytes out;
  for (auto id : ids) {
    Bytes c(size, 0xee);
    std::fill(c.begin(), c.begin() + 16, 0);
    c[15] = id;
    append(out, c);
  }
  return out;
}

TEST(NodeCommandPool, AllOrNothingAdmissionAndSkipsInFlight) {
  WakeSignal wake;
  CommandPool pool(3, 1 << 20, &wake);
  const auto before = wake.generation();
  EXPECT_TRUE(pool.add(commands({1, 2}, 32), 32));
  EXPECT_GT(wake.generation(), before);
  EXPECT_FALSE(pool.add(commands({3, 4}, 32), 32));  // would exceed 3: nothing accepted
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_TRUE(pool.add(commands({2}, 32), 32));  // duplicate id: accepted, not pooled twice
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_FALSE(pool.add(commands({5}, 32), 31));  // not a whole number of commands

  auto all = pool.take(10, 1 << 20, {});
  ASSERT_EQ(all.size(), 2u);
  CommandIdSet in_flight{command_id(all[0])};
  auto rest = pool.take(10, 1 << 20, in_flight);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0], all[1]);
  pool.remove(std::span<const Bytes>(all.data(), 1));
  EXPECT_EQ(pool.size(), 1u);
}

// The id index stays cheap for the ids clients really send: each client's consecutive sequence
// numbers (the benchmark's shape), several clients at once, and random ids. Adding and then
// removing 20,000 commands in batches probes few slots per lookup; a hash that clusters these
// ids (or a table that never ends its probes early) would probe many.
TEST(NodeCommandPool, IdLookupsProbeFewSlots) {
  auto probes_per_lookup = [](auto make_id) {
    CommandPool pool(1'000'000, 256u << 20);
    std::vector<Bytes> pooled;
    for (std::uint64_t i = 0; i < 20'000; ++i) {
      Bytes c(32, 0);
      const auto id = make_id(i);
      std::copy(id.begin(), id.end(), c.begin());
      pooled.push_back(c);
    }
    for (std::size_t b = 0; b < pooled.size(); b += 400) {
      Bytes data;
      for (std::size_t i = b; i < b + 400; ++i) append(data, pooled[i]);
      EXPECT_TRUE(pool.add(data, 32));
      if (b >= 4'000) pool.remove(std::span<const Bytes>(pooled.data() + b - 4'000, 400));
    }
    pool.remove(pooled);
    EXPECT_EQ(pool.size(), 0u);
    return static_cast<double>(pool.index_probes()) / (2.0 * pooled.size());
  };
  auto client_seq = [](std::uint64_t client, std::uint64_t seq) {
    CommandId id{};
    for (int i = 0; i < 8; ++i) {
      id[i] = static_cast<std::uint8_t>(client >> (8 * (7 - i)));
      id[8 + i] = static_cast<std::uint8_t>(seq >> (8 * (7 - i)));
    }
    return id;
  };
  const double one_client =
      probes_per_lookup([&](std::uint64_t i) { return client_seq(0x1234'5678'9abc'def0, i); });
  const double four_clients =
      probes_per_lookup([&](std::uint64_t i) { return client_seq(i % 4 + 1, i / 4); });
  std::mt19937_64 rng(11);
  const double random = probes_per_lookup([&](std::uint64_t) {
    CommandId id{};
    for (auto& b : id) b = static_cast<std::uint8_t>(rng());
    return id;
  });
  // A well-spread hash averages ~2.7 here (inserts probe to an empty slot at up to 5/8 load).
  EXPECT_LT(one_client, 3.0);
  EXPECT_LT(four_clients, 3.0);
  EXPECT_LT(random, 3.0);
  std::printf("probes per lookup: one client %.2f, four clients %.2f, random ids %.2f\n",
              one_client, four_clients, random);
}

// Ids a client computes to share one probe start. The index used an unkeyed splitmix64 mix of
// the id's halves; that mix is invertible, so a client could take ids 0, 1, 2... of its output
// (all with the same top bits: one slot in any table) back to the ids that produce them, and
// every lookup would walk one long run. The keyed hash spreads them like any others.
TEST(NodeCommandPool, IdsComputedToCollideUnderAnUnkeyedMixProbeFewSlots) {
  auto inverse = [](std::uint64_t c) {  // of an odd multiplier, mod 2^64 (Newton)
    std::uint64_t x = c;
    for (int i = 0; i < 6; ++i) x *= 2 - c * x;
    return x;
  };
  auto unshift = [](std::uint64_t y, int s) {  // inverse of x ^ (x >> s)
    std::uint64_t x = y;
    for (int i = 0; i < 64 / s + 1; ++i) x = y ^ (x >> s);
    return x;
  };
  auto unmix = [&](std::uint64_t z) {  // inverse of the splitmix64 finaliser
    z = unshift(z, 31) * inverse(0x94d049bb133111ebull);
    z = unshift(z, 27) * inverse(0xbf58476d1ce4e5b9ull);
    return unshift(z, 30);
  };
  auto mix = [](std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  ASSERT_EQ(mix(unmix(12345)), 12345u);
  CommandPool pool(1'000'000, 256u << 20);
  std::vector<Bytes> pooled;
  Bytes data;
  for (std::uint64_t i = 0; i < 4'000; ++i) {
    const std::uint64_t b = unmix(unmix(i));  // the old start was mix(a ^ mix(b)) >> shift, a = 0
    Bytes c(32, 0);
    std::memcpy(c.data() + 8, &b, 8);
    pooled.push_back(c);
    append(data, c);
  }
  ASSERT_TRUE(pool.add(data, 32));
  pool.remove(pooled);
  EXPECT_EQ(pool.size(), 0u);
  // ~2.7 when spread; 2,438 per lookup on the unkeyed mix, where they all shared one start and
  // each insert or erase walked the run the others had built.
  EXPECT_LT(static_cast<double>(pool.index_probes()) / (2.0 * pooled.size()), 3.0);
}

// Many rounds of add / take / remove against a plain model (arrival-ordered list of ids): the
// pool keeps arrival order, skips duplicates and in-flight ids, and its id index stays right
// through growth, erasures and rebuilds.
TEST(NodeCommandPool, MatchesASimpleModelOverManyRounds) {
  CommandPool pool(100'000, 64u << 20);
  std::vector<std::uint64_t> model;  // live ids in arrival order
  std::mt19937_64 rng(7);
  auto command = [](std::uint64_t id, std::size_t size) {
    Bytes c(size, 0x5a);
    for (int i = 0; i < 8; ++i) c[8 + i] = static_cast<std::uint8_t>(id >> (8 * (7 - i)));
    return c;
  };
  auto id_of = [](const Bytes& c) {
    std::uint64_t id = 0;
    for (int i = 0; i < 8; ++i) id = (id << 8) | c[8 + i];
    return id;
  };
  std::uint64_t next = 0;
  for (int round = 0; round < 300; ++round) {
    const std::size_t size = 16 + (rng() % 3) * 16;
    const std::size_t n = 1 + rng() % 200;
    Bytes data;
    for (std::size_t i = 0; i < n; ++i) {
      // Now and then resend a pooled id (skipped) or repeat one within the batch.
      const bool dup = !model.empty() && rng() % 10 == 0;
      const std::uint64_t id = dup ? model[rng() % model.size()] : next++;
      append(data, command(id, size));
      if (!dup && std::find(model.begin(), model.end(), id) == model.end()) model.push_back(id);
    }
    ASSERT_TRUE(pool.add(data, size));
    ASSERT_EQ(pool.size(), model.size());

    CommandIdSet in_flight;
    for (std::size_t i = 0; i < model.size(); i += 3)
      in_flight.insert(command_id(command(model[i], 16)));
    const auto taken = pool.take(150, 1u << 20, in_flight);
    std::vector<std::uint64_t> expected;
    for (std::size_t i = 0; i < model.size() && expected.size() < 150; ++i) {
      if (i % 3 != 0) expected.push_back(model[i]);
    }
    std::vector<std::uint64_t> got;
    for (const auto& c : taken) got.push_back(id_of(c));
    ASSERT_EQ(got, expected) << "round " << round;

    // Commit most of what was taken plus a few never-pooled ids (ignored).
    std::vector<Bytes> committed;
    for (const auto& c : taken) {
      if (rng() % 4 != 0) committed.push_back(c);
    }
    committed.push_back(command(1'000'000 + round, 16));
    pool.remove(committed);
    for (const auto& c : committed) std::erase(model, id_of(c));
    ASSERT_EQ(pool.size(), model.size());
  }
  // Draining everything empties it; an emptied pool takes new commands again.
  std::vector<Bytes> rest;
  for (std::uint64_t id : model) rest.push_back(command(id, 16));
  pool.remove(rest);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_TRUE(pool.take(10, 1u << 20, {}).empty());
  ASSERT_TRUE(pool.add(command(next, 32), 32));
  EXPECT_EQ(pool.take(10, 1u << 20, {}).size(), 1u);
}

TEST(NodeBenchCommitLog, EncodesBlocksAboveAHeightBigEndian) {
  BenchCommitLog log(2);
  std::vector<Bytes> one = {Bytes(16, 0)};
  one[0][15] = 7;
  log.record(1, 1000, {});
  log.record(2, 2000, one);
  log.record(3, 3000, {});  // only the last 2 blocks are kept
  EXPECT_EQ(log.last_height(), 3u);
  Bytes all = log.encode_after(0);
  ASSERT_EQ(all.size(), (8 + 8 + 4 + 16) + (8 + 8 + 4));
  EXPECT_EQ(all[7], 2);                       // height 2, big-endian
  EXPECT_EQ((all[14] << 8) | all[15], 2000);  // commit time
  EXPECT_EQ(all[19], 1);                      // count
  EXPECT_EQ(all[20 + 15], 7);                 // the command id
  EXPECT_TRUE(log.encode_after(3).empty());
}

TEST(NodeEventQueue, BoundedAndWakesTheConsumer) {
  EventQueue<int> q(2);
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push(2));
  EXPECT_FALSE(q.push(3));
  EXPECT_EQ(*q.pop_until(std::chrono::steady_clock::now()), 1);
  EXPECT_EQ(*q.pop_until(std::chrono::steady_clock::now()), 2);
  EXPECT_FALSE(q.pop_until(std::chrono::steady_clock::now()).has_value());
  std::thread producer([&] { q.push(4); });
  EXPECT_EQ(*q.pop_until(std::chrono::steady_clock::now() + std::chrono::seconds(30)), 4);
  producer.join();
  q.close();
  EXPECT_FALSE(q.push(5));
  EXPECT_FALSE(q.pop_until(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
}

TEST(NodeEventQueue, UrgentItemsGoFirstInTheirOwnOrder) {
  EventQueue<int> q(4);
  const auto now = [] { return std::chrono::steady_clock::now(); };
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push(2));
  EXPECT_TRUE(q.push_urgent(10));
  EXPECT_TRUE(q.push_urgent(11));
  EXPECT_FALSE(q.push_urgent(12));  // the bound covers both lanes
  EXPECT_EQ(*q.pop_until(now()), 10);
  EXPECT_TRUE(q.push_urgent(12));  // behind 11, ahead of 1 and 2
  for (int expected : {11, 12, 1, 2}) EXPECT_EQ(*q.pop_until(now()), expected);
  EXPECT_TRUE(q.push(3));
  EXPECT_TRUE(q.push_urgent(13));
  EXPECT_EQ(*q.pop_until(now()), 13);
  EXPECT_EQ(*q.pop_until(now()), 3);
  EXPECT_FALSE(q.pop_until(now()).has_value());
  // pop_urgent takes only urgent items, oldest first, and never an ordinary one.
  EXPECT_TRUE(q.push(4));
  EXPECT_FALSE(q.pop_urgent().has_value());
  EXPECT_TRUE(q.push_urgent(14));
  EXPECT_TRUE(q.push_urgent(15));
  EXPECT_EQ(*q.pop_urgent(), 14);
  EXPECT_TRUE(q.push_urgent(16));  // behind 15, ahead of 4
  EXPECT_EQ(*q.pop_urgent(), 15);
  EXPECT_EQ(*q.pop_until(now()), 16);
  EXPECT_FALSE(q.pop_urgent().has_value());
  EXPECT_EQ(*q.pop_until(now()), 4);
}

// A sync response often carries blocks this node has executed meanwhile (it asked while their
// proposal waited in its verifier queue); their transactions have left the pool, and resolving
// them would recover every signature a second time.
TEST(NodeResolve, ASyncResponseSkipsBlocksAlreadyExecutedHere) {
  constexpr std::uint64_t kChain = 7;
  // Balance 0: a proposal's transactions are pooled whatever this pool's admission rules think.
  mempool::Mempool pool(kChain, {},
                        [](const crypto::Address&) { return mempool::CommittedAccount{}; });
  const auto key = crypto::Secp256k1Key::generate();
  const auto to = crypto::Secp256k1Key::generate().address();
  consensus::SyncResponse response;
  for (types::Height h = 1; h <= 4; ++h) {
    types::Block b;
    b.round = h;
    b.height = h;
    b.payload = std::vector<types::Transaction>{
        types::Transaction::sign(kChain, h - 1, types::Transfer{to, 1}, key)};
    response.blocks.push_back(std::move(b));
  }
  const consensus::Message message = response;

  const auto before = types::signature_recoveries();
  auto resolved = resolve_transactions(message, pool, kChain, /*executed=*/2);
  EXPECT_EQ(types::signature_recoveries() - before, 2u);
  ASSERT_EQ(resolved.size(), 2u);
  EXPECT_EQ(resolved[0].id, response.blocks[2].compute_id());
  EXPECT_EQ(resolved[1].id, response.blocks[3].compute_id());
  for (const auto& r : resolved) {
    EXPECT_TRUE(r.valid);
    ASSERT_EQ(r.txs.size(), 1u);
    EXPECT_EQ(r.txs[0]->sender, key.address());
  }
  // Resolved once, pooled: a second look recovers nothing.
  EXPECT_EQ(resolve_transactions(message, pool, kChain, 2).size(), 2u);
  EXPECT_EQ(types::signature_recoveries() - before, 2u);
  // Nothing executed yet: every block is resolved.
  EXPECT_EQ(resolve_transactions(message, pool, kChain, 0).size(), 4u);
}

// A transaction this node refused after checking it (its sender's funding not committed here
// yet) is resolved from that check when a proposal carries it: still one recovery per node.
TEST(NodeResolve, AProposalReusesTheCheckOfATransactionRefusedHere) {
  constexpr std::uint64_t kChain = 7;
  mempool::Mempool pool(kChain, {},
                        [](const crypto::Address&) { return mempool::CommittedAccount{}; });
  const auto key = crypto::Secp256k1Key::generate();
  const auto tx = types::Transaction::sign(kChain, 0, types::Transfer{key.address(), 3}, key);
  const auto before = types::signature_recoveries();
  auto refused = pool.add_encoded(codec::encode(tx));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("insufficient balance"), std::string::npos);
  types::Block b;
  b.round = 1;
  b.height = 1;
  b.payload = std::vector<types::Transaction>{tx};
  consensus::ProposalMsg proposal;
  proposal.block = b;
  auto resolved = resolve_transactions(consensus::Message(proposal), pool, kChain, 0);
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_TRUE(resolved[0].valid);
  ASSERT_EQ(resolved[0].txs.size(), 1u);
  EXPECT_EQ(resolved[0].txs[0]->sender, key.address());
  EXPECT_EQ(types::signature_recoveries() - before, 1u);
}

// A real RpcServer on 127.0.0.1 over a mempool, with its io thread; the test sets ctx first.
struct RpcRig {
  static constexpr std::uint64_t kChain = 5;
  p2p::asio::io_context io;
  p2p::asio::executor_work_guard<p2p::asio::io_context::executor_type> guard =
      p2p::asio::make_work_guard(io);
  std::thread io_thread{[this] { io.run(); }};
  mempool::Mempool pool{kChain, {}, [](const crypto::Address&) {
                          return mempool::CommittedAccount{0, ~types::Amount{0}};
                        }};
  Metrics metrics;
  TxStatusBook status;
  NullTransport transport;
  RpcContext ctx;
  std::shared_ptr<RpcServer> server;
  // The offload queue of offload_by_hand(): jobs wait here until the test runs them.
  std::mutex jobs_mu;
  std::deque<std::function<void()>> jobs;
  bool refuse_jobs = false;  // the offload cannot take jobs (a full or closed queue)

  RpcRig() {
    ctx.chain_id = kChain;
    ctx.mempool = &pool;
    ctx.tx_status = &status;
    ctx.metrics = &metrics;
    ctx.transport = &transport;
    ctx.core_status = [] { return CoreStatus{}; };
    ctx.verify_backlog = [] { return std::size_t{0}; };
    ctx.busy_backlog = 1024;
  }
  /// Starts the server with ctx as it stands; false (with a test failure) if it cannot listen.
  bool start() {
    std::promise<Result<std::shared_ptr<RpcServer>>> started;
    p2p::asio::post(io, [&] { started.set_value(RpcServer::start(io, "127.0.0.1:0", ctx)); });
    auto r = started.get_future().get();
    EXPECT_TRUE(r.ok()) << r.error().to_string();
    if (r.ok()) server = *r;
    return r.ok();
  }
  std::uint16_t port() const { return server->port(); }

  /// Makes ctx.offload this rig's queue, run by hand with run_jobs() (call before start()).
  void offload_by_hand() {
    ctx.offload = [this](std::function<void()> job) {
      std::lock_guard lock(jobs_mu);
      if (refuse_jobs) return false;
      jobs.push_back(std::move(job));
      return true;
    };
  }
  void refuse_offload(bool refuse) {
    std::lock_guard lock(jobs_mu);
    refuse_jobs = refuse;
  }
  std::size_t queued() {
    std::lock_guard lock(jobs_mu);
    return jobs.size();
  }
  /// Waits (30 s at most) until `n` jobs are queued; returns how many are.
  std::size_t wait_queued(std::size_t n) {
    for (int i = 0; i < 3000 && queued() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return queued();
  }
  /// Runs the queued jobs on this thread, oldest first; returns how many ran.
  std::size_t run_jobs() {
    std::size_t ran = 0;
    for (;;) {
      std::function<void()> job;
      {
        std::lock_guard lock(jobs_mu);
        if (jobs.empty()) return ran;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
      ++ran;
    }
  }
  /// Stops the server and lets the io thread finish its closing work.
  void stop() {
    if (!server) return;
    server->stop();
    std::promise<void> drained;
    p2p::asio::post(io, [&] { drained.set_value(); });
    drained.get_future().get();
    server.reset();
  }
  ~RpcRig() {  // also when an assertion ends the test early
    stop();
    guard.reset();
    io.stop();
    if (io_thread.joinable()) io_thread.join();
  }
};

// POST /txs above RpcServer::kInlineSubmitTxs is admitted by RpcContext::offload's thread (here a
// queue the test runs by hand): while a batch waits, the io thread answers other requests; at
// most kMaxOffloadedTxs wait, more are refused with 503 busy; each waiting request gets the same
// per-transaction answers as an inline one once its job has run; a small batch stays inline.
TEST(NodeRpcOffload, LargeBatchesWaitOffTheIoThreadBoundedAndAnswered) {
  constexpr std::uint64_t kChain = RpcRig::kChain;
  RpcRig rig;
  auto& pool = rig.pool;
  rig.offload_by_hand();
  ASSERT_TRUE(rig.start());
  const std::uint16_t port = rig.port();

  // Batches of signed transfers from `key`, nonces [first, first + n).
  const auto key = crypto::Secp256k1Key::generate();
  const auto batch = [&](std::uint64_t first, std::size_t n) {
    std::string body = "{\"txs\":[";
    for (std::size_t i = 0; i < n; ++i) {
      auto tx = types::Transaction::sign(kChain, first + i, types::Transfer{key.address(), 1}, key);
      body += (i ? ",\"" : "\"") + to_hex(codec::encode(tx), true) + "\"";
    }
    return body + "]}";
  };
  const auto post = [&](const std::string& body) {
    return std::async(std::launch::async, [&, body] {
      return http_request("127.0.0.1", port, "POST", "/txs", body, std::chrono::seconds(30));
    });
  };

  // A small batch is admitted at once, inline.
  auto small = post(batch(0, RpcServer::kInlineSubmitTxs)).get();
  ASSERT_TRUE(small.ok()) << small.error().to_string();
  EXPECT_EQ(small->status, 200) << small->body;
  EXPECT_EQ(rig.queued(), 0u);
  EXPECT_EQ(pool.size(), RpcServer::kInlineSubmitTxs);

  // An offload that cannot take the job: 503 busy, nothing admitted, and (below) the refused
  // batch does not count against the bound.
  rig.refuse_offload(true);
  auto not_taken = post(batch(500'000, RpcServer::kMaxSubmitBatch)).get();
  ASSERT_TRUE(not_taken.ok());
  EXPECT_EQ(not_taken->status, 503) << not_taken->body;
  EXPECT_NE(not_taken->body.find("busy"), std::string::npos) << not_taken->body;
  rig.refuse_offload(false);

  // Four full batches wait for their jobs (the first nonce-contiguous; the others too far
  // ahead, each refused after its signature check); the node answers other requests meanwhile.
  std::vector<std::future<Result<HttpResponse>>> waiting;
  for (std::uint64_t b = 0; b < 4; ++b) {
    const std::uint64_t first = b == 0 ? RpcServer::kInlineSubmitTxs : 100'000 * b;
    waiting.push_back(post(batch(first, RpcServer::kMaxSubmitBatch)));
    ASSERT_EQ(rig.wait_queued(b + 1), b + 1);
  }
  auto metrics_page =
      http_request("127.0.0.1", port, "GET", "/metrics", "", std::chrono::seconds(5));
  ASSERT_TRUE(metrics_page.ok());
  EXPECT_EQ(metrics_page->status, 200);
  for (auto& w : waiting) {
    EXPECT_EQ(w.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  }
  EXPECT_EQ(pool.size(), RpcServer::kInlineSubmitTxs);  // nothing admitted before its job runs

  // A fifth would exceed kMaxOffloadedTxs: refused before any signature check.
  auto refused = post(batch(900'000, RpcServer::kInlineSubmitTxs + 1)).get();
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_NE(refused->body.find("busy"), std::string::npos) << refused->body;
  EXPECT_EQ(rig.queued(), 4u);

  // The jobs run (on this thread): each request gets one answer per transaction, in order.
  EXPECT_EQ(rig.run_jobs(), 4u);
  for (std::size_t b = 0; b < waiting.size(); ++b) {
    auto r = waiting[b].get();
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    ASSERT_EQ(r->status, 200) << r->body;
    auto j = nlohmann::json::parse(r->body);
    ASSERT_EQ(j["results"].size(), RpcServer::kMaxSubmitBatch);
    EXPECT_EQ(j["accepted"], b == 0 ? RpcServer::kMaxSubmitBatch - RpcServer::kInlineSubmitTxs
                                    : 0u)  // the pool takes 1,000 per account
        << b;
    if (b > 0) {
      EXPECT_NE(j["results"][0].value("error", ""), "") << b;
    }
  }
  EXPECT_EQ(pool.size(), RpcServer::kMaxSubmitBatch);
  // The bound is free again.
  auto again = post(batch(900'000, RpcServer::kInlineSubmitTxs + 1));
  ASSERT_EQ(rig.wait_queued(1), 1u);

  // Stopping answers (or closes) a request whose job has not run; the job may run afterwards.
  rig.server->stop();
  auto stopped = again.get();
  if (stopped.ok()) {
    EXPECT_EQ(stopped->status, 503) << stopped->body;
  }
  EXPECT_EQ(rig.run_jobs(), 1u);
  rig.stop();
}

// Submissions beyond the RPC's inline budget of recoveries wait off the io thread like large
// batches: a single POST /tx too.
TEST(NodeRpcOffload, SubmissionsBeyondTheInlineBudgetWaitOffTheIoThread) {
  RpcRig rig;
  rig.offload_by_hand();
  rig.ctx.inline_recoveries_per_sec = 1;  // a burst of one
  ASSERT_TRUE(rig.start());
  const auto key = crypto::Secp256k1Key::generate();
  const auto tx = [&](std::uint64_t nonce) {
    return "\"" +
           to_hex(codec::encode(types::Transaction::sign(RpcRig::kChain, nonce,
                                                         types::Transfer{key.address(), 1}, key)),
                  true) +
           "\"";
  };
  const auto post = [&](const std::string& path, const std::string& body) {
    return std::async(std::launch::async, [&, path, body] {
      return http_request("127.0.0.1", rig.port(), "POST", path, body, std::chrono::seconds(30));
    });
  };
  // The first is admitted here, at once.
  auto first = post("/tx", "{\"tx\":" + tx(0) + "}").get();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(rig.pool.size(), 1u);
  EXPECT_EQ(rig.queued(), 0u);
  // The budget is spent (it refills at one per second): the next single one and a small batch
  // wait for the offload thread, and are answered once it ran them.
  auto second = post("/tx", "{\"tx\":" + tx(1) + "}");
  auto batch = post("/txs", "{\"txs\":[" + tx(2) + "," + tx(3) + "]}");
  ASSERT_EQ(rig.wait_queued(2), 2u);
  EXPECT_EQ(rig.pool.size(), 1u);
  EXPECT_EQ(rig.metrics.rpc_offloaded_txs_total.load(), 3u);
  EXPECT_EQ(rig.run_jobs(), 2u);
  auto s = second.get();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status, 200) << s->body;
  EXPECT_NE(s->body.find("\"hash\""), std::string::npos) << s->body;
  auto b = batch.get();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->status, 200) << b->body;
  EXPECT_EQ(nlohmann::json::parse(b->body)["accepted"], 2) << b->body;
  EXPECT_EQ(rig.pool.size(), 4u);
  // A refused one is answered from its job too (here: signed for another chain).
  const std::string other_chain = to_hex(
      codec::encode(types::Transaction::sign(99, 4, types::Transfer{key.address(), 1}, key)), true);
  auto refused = post("/tx", "{\"tx\":\"" + other_chain + "\"}");
  rig.wait_queued(1);
  EXPECT_EQ(rig.run_jobs(), 1u);
  auto r = refused.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("chain"), std::string::npos) << r->body;
  EXPECT_EQ(rig.pool.size(), 4u);

  // With no budget at all every submission is offloaded, the first one too.
  RpcRig none;
  none.offload_by_hand();
  none.ctx.inline_recoveries_per_sec = 0;
  ASSERT_TRUE(none.start());
  auto waiting = std::async(std::launch::async, [&] {
    return http_request("127.0.0.1", none.port(), "POST", "/tx", "{\"tx\":" + tx(0) + "}",
                        std::chrono::seconds(30));
  });
  ASSERT_EQ(none.wait_queued(1), 1u);
  EXPECT_EQ(none.pool.size(), 0u);
  EXPECT_EQ(none.run_jobs(), 1u);
  auto w = waiting.get();
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->status, 200) << w->body;
  EXPECT_EQ(none.pool.size(), 1u);
}

// One HTTP/1.1 GET on a connected socket; the raw response up to its body (the server sends
// Content-Length), or "" if the connection closed first.
std::string raw_get(p2p::tcp::socket& s, const std::string& path) {
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
  boost::system::error_code ec;
  p2p::asio::write(s, p2p::asio::buffer(req), ec);
  std::string got;
  char buf[4096];
  for (;;) {
    const auto head_end = got.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const auto cl = got.find("Content-Length: ");
      const std::size_t len = cl == std::string::npos ? 0 : std::stoul(got.substr(cl + 16));
      if (got.size() >= head_end + 4 + len) return got;
    }
    const std::size_t n = s.read_some(p2p::asio::buffer(buf), ec);
    if (ec) return got;
    got.append(buf, n);
  }
}

// A blocking client socket connected to the rig's server.
std::unique_ptr<p2p::tcp::socket> connect_to(p2p::asio::io_context& client, std::uint16_t port) {
  auto s = std::make_unique<p2p::tcp::socket>(client);
  s->connect(p2p::tcp::endpoint(p2p::asio::ip::make_address("127.0.0.1"), port));
  return s;
}

// The RPC serves at most max_connections at once and answers the next one 503.
TEST(NodeRpcConnections, OverTheLimitAnsweredBusy) {
  RpcRig rig;
  rig.ctx.max_connections = 2;
  ASSERT_TRUE(rig.start());
  p2p::asio::io_context client;
  const auto open = [&] { return connect_to(client, rig.port()); };
  auto a = open(), b = open();
  EXPECT_NE(raw_get(*a, "/status").find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(raw_get(*b, "/status").find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(rig.metrics.rpc_connections.load(), 2u);

  auto c = open();
  const std::string refused = raw_get(*c, "/status");
  EXPECT_NE(refused.find("HTTP/1.1 503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("too many connections: 2 open"), std::string::npos) << refused;
  EXPECT_EQ(rig.metrics.rpc_refused_total.load(), 1u);
  // The kept connections still work; once one closes, a new one is served.
  EXPECT_NE(raw_get(*a, "/status").find("HTTP/1.1 200"), std::string::npos);
  b.reset();
  for (int i = 0; i < 500 && rig.metrics.rpc_connections.load() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(rig.metrics.rpc_connections.load(), 1u);
  auto d = open();
  EXPECT_NE(raw_get(*d, "/status").find("HTTP/1.1 200"), std::string::npos);
}

// The server's end of an accepted connection: the descriptor in this process whose local port is
// `server_port` and whose peer port is `client_port`; -1 if none.
int server_end(std::uint16_t server_port, std::uint16_t client_port) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in local{}, peer{};
    socklen_t len = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        local.sin_family != AF_INET || ntohs(local.sin_port) != server_port) {
      continue;
    }
    len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        ntohs(peer.sin_port) == client_port) {
      return fd;
    }
  }
  return -1;
}

// Replies leave at once: the server turns Nagle's algorithm off on every connection it serves
// (a long-poll's answer larger than a segment would otherwise wait for the client's ACK).
TEST(NodeRpcConnections, ServedConnectionsSendWithoutDelay) {
  RpcRig rig;
  ASSERT_TRUE(rig.start());
  p2p::asio::io_context client;
  auto c = connect_to(client, rig.port());
  EXPECT_NE(raw_get(*c, "/status").find("HTTP/1.1 200"), std::string::npos);
  const int fd = server_end(rig.port(), c->local_endpoint().port());
  ASSERT_GE(fd, 0);
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  // The client's own socket was left as it was: the option read is the server's.
  ASSERT_EQ(getsockopt(c->native_handle(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_EQ(nodelay, 0);
}

// When accepting fails (here: out of file descriptors) the RPC retries every 100 ms instead of
// spinning on the io thread, and serves the waiting connection once it can.
TEST(NodeRpcConnections, AcceptErrorsDoNotSpin) {
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizers' own checks need descriptors (UBSan's vptr check opens a pipe) and report
  // false errors without them.
  GTEST_SKIP() << "not under the sanitizers: the test takes every file descriptor";
#endif
  RpcRig rig;
  ASSERT_TRUE(rig.start());
  p2p::asio::io_context client;
  const p2p::tcp::endpoint at(p2p::asio::ip::make_address("127.0.0.1"), rig.port());
  EXPECT_NE(raw_get(*connect_to(client, rig.port()), "/status").find("HTTP/1.1 200"),
            std::string::npos);

  // The client's socket exists, then every free descriptor is taken.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  auto e = std::make_unique<p2p::tcp::socket>(client);
  e->open(p2p::tcp::v4());
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fillers;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) fillers.push_back(fd);
  const auto release = [&] {
    for (int fd : fillers) ::close(fd);
    fillers.clear();
    setrlimit(RLIMIT_NOFILE, &saved);
  };
  boost::system::error_code ec;
  e->connect(at, ec);  // completed by the kernel; the server cannot accept it
  const std::uint64_t errors_before = rig.metrics.rpc_accept_errors_total.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const std::uint64_t errors = rig.metrics.rpc_accept_errors_total.load() - errors_before;
  release();
  ASSERT_FALSE(ec) << ec.message();
  // ~6 retries in 600 ms; a loop retrying at once would count many thousands.
  EXPECT_GE(errors, 1u);
  EXPECT_LE(errors, 20u);
  EXPECT_NE(raw_get(*e, "/status").find("HTTP/1.1 200"), std::string::npos);
}

TEST(NodeHttpClient, ParsesUrls) {
  EXPECT_EQ(parse_http_url("http://127.0.0.1:8600/").value(),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{8600}));
  EXPECT_EQ(parse_http_url("localhost:1").value().second, 1);
  EXPECT_FALSE(parse_http_url("127.0.0.1").ok());
  EXPECT_FALSE(parse_http_url("127.0.0.1:70000").ok());
  EXPECT_FALSE(parse_http_url(":80").ok());
  // Nothing listens on port 1: an error value, not an exception.
  EXPECT_FALSE(http_request("127.0.0.1", 1, "GET", "/", "", std::chrono::seconds(5)).ok());
}

}  // namespace
}  // namespace ol::node
