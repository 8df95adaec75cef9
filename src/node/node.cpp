#include "node/node.h"

#include <spdlog/spdlog.h>

#include "common/hex.h"
#include "common/thread_name.h"
#include "consensus/messages.h"
#include "crypto/ed25519.h"
#include "network/network_manager.h"
#include "sync/block_sync.h"
#include "sync/state_sync.h"
#include "sync/wire.h"
#include "types/tx_batch.h"

namespace ol::node {
namespace {

constexpr std::size_t kMaxPendingCommands = 1'000'000;
constexpr std::size_t kMaxPendingCommandBytes = 256u << 20;

using Clock = std::chrono::steady_clock;

const Hash32& genesis_block_id() {
  static const Hash32 id = types::Block::genesis().compute_id();
  return id;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool carries_transactions(const consensus::Message& m) {
  auto has = [](const types::Block& b) {
    const auto* txs = std::get_if<std::vector<types::Transaction>>(&b.payload);
    return txs != nullptr && !txs->empty();
  };
  if (const auto* p = std::get_if<consensus::ProposalMsg>(&m)) return has(p->block);
  if (const auto* s = std::get_if<consensus::SyncResponse>(&m)) {
    for (const auto& b : s->blocks) {
      if (has(b)) return true;
    }
  }
  return false;
}

/// How long a transaction admitted over RPC may wait for others to share its gossip message.
constexpr auto kTxGossipDelay = std::chrono::milliseconds(3);

/// The Transport on the real p2p network. Transactions are published in batches
/// (types/tx_batch.h): one gossip message, so one signature and one frame per peer, for up to
/// kMaxBatchTxs transactions. A batch leaves when it is full or kTxGossipDelay after its first
/// transaction, whichever comes first. The batch and its timer live on the io thread.
class NetworkTransport final : public Transport,
                               public std::enable_shared_from_this<NetworkTransport> {
 public:
  NetworkTransport(p2p::asio::io_context& io, std::shared_ptr<network::NetworkManager> net)
      : io_(io), net_(std::move(net)), timer_(io) {}
  void send_to(types::ValidatorIndex to, Bytes frame) override {
    net_->send_to_peer(to, std::move(frame));
  }
  void send_to_validators(Bytes frame) override { net_->send_to_validators(std::move(frame)); }
  void publish_transaction(Bytes encoded) override {
    // The RPC admits transactions on the io thread, so this usually runs inline.
    p2p::asio::dispatch(
        io_, [self = shared_from_this(), tx = std::move(encoded)] { self->add_to_batch(tx); });
  }
  void publish_transactions(std::vector<Bytes> encoded) override {
    p2p::asio::dispatch(io_, [self = shared_from_this(), txs = std::move(encoded)] {
      for (const auto& tx : txs) self->add_to_batch(tx);
    });
  }
  NetworkStats stats() const override {
    const network::Health h = net_->health();
    return NetworkStats{h.connected_peers, h.validator_peers, h.partitioned, h.messages_received,
                        h.messages_sent,   h.bytes_received,  h.bytes_sent};
  }

 private:
  // Io thread.
  void add_to_batch(const Bytes& tx) {
    if (!batch_.fits(tx.size())) {
      if (batch_.empty()) return;  // cannot happen for an admitted transaction
      flush();
    }
    (void)batch_.add(tx);
    if (!batch_.fits(types::Transaction::kMaxEncodedSize)) {  // full: no room for another
      flush();
      return;
    }
    if (batch_.count() == 1) {
      timer_.expires_after(kTxGossipDelay);
      timer_.async_wait([weak = weak_from_this(), gen = generation_](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->generation_ != gen) return;
        self->flush();
      });
    }
  }
  void flush() {
    ++generation_;  // a pending timer belongs to the batch that is leaving now
    timer_.cancel();
    if (batch_.empty()) return;
    net_->broadcast(network::kTransactionsTopic, batch_.take());
  }

  p2p::asio::io_context& io_;
  std::shared_ptr<network::NetworkManager> net_;
  p2p::asio::steady_timer timer_;
  types::TxBatchBuilder batch_;
  std::uint64_t generation_ = 0;
};

}  // namespace

Result<std::unique_ptr<Node>> Node::open(const std::filesystem::path& home, NodeConfig config,
                                         p2p::asio::io_context& io,
                                         std::shared_ptr<Transport> transport) {
  std::unique_ptr<Node> node(new Node());
  node->home_ = home;
  node->io_ = &io;
  node->config_ = std::move(config);
  const NodeConfig& c = node->config_;

  OL_TRY_ASSIGN(node->genesis_, load_genesis(home / c.genesis));
  OL_TRY_ASSIGN(auto set, node->genesis_.validator_set());
  node->validators_ = std::make_unique<crypto::ValidatorSet>(std::move(set));
  std::error_code ec;
  if (std::filesystem::exists(home / c.validator_key, ec)) {
    auto key = crypto::load_ed25519_key_file(home / c.validator_key);
    if (!key) return make_error(key.error().code, "validator key: " + key.error().message);
    const auto& vals = node->genesis_.validators;
    auto me = std::find_if(vals.begin(), vals.end(), [&](const GenesisValidator& v) {
      return v.public_key == key->public_key();
    });
    if (me == vals.end()) {
      return make_error(Errc::invalid_argument, "the validator key in " + c.validator_key +
                                                    " is not in the genesis validator set");
    }
    node->self_ = static_cast<types::ValidatorIndex>(me - vals.begin());
    node->core_key_ = std::move(*key);
  } else if (transport) {
    return make_error(Errc::not_found, "validator key " + c.validator_key +
                                           " is missing (a test transport needs a validator)");
  }
  // Otherwise: a full node (no consensus; it follows the chain by block sync).

  storage::Options so;
  so.keep_blocks = c.storage.keep_blocks;
  so.memtable_budget_bytes = std::size_t{c.storage.memtable_mb} << 20;
  OL_TRY_ASSIGN(node->store_, storage::Store::open(home / c.storage.path, so));
  // State sync only into a store that holds no state at all (no root record, see ledger.h);
  // otherwise the store is resumed as it is.
  OL_TRY_ASSIGN(auto root_record, node->store_->get_state(as_bytes(std::string_view("m/root"))));
  const bool state_sync = c.sync.state_sync && !root_record && !transport;
  if (c.sync.state_sync && !state_sync) {
    spdlog::info("node: the store already holds state; resuming it instead of state sync");
  }
  if (!state_sync) OL_TRY(node->open_ledger());
  node->checkpoints_ = std::make_unique<CheckpointTaker>(
      *node->store_, sync::CheckpointConfig{c.sync.checkpoint_interval, c.sync.checkpoints_keep});

  mempool::Limits limits;
  limits.max_txs = c.mempool.capacity;
  limits.max_future = std::min(c.mempool.future_capacity, c.mempool.capacity);
  limits.future_lifetime = std::chrono::milliseconds(c.mempool.future_lifetime_ms);
  Node* owner = node.get();
  // The ledger exists before anything that admits transactions starts (start_services).
  node->mempool_ = std::make_unique<mempool::Mempool>(
      node->genesis_.app.chain_id, limits, [owner](const crypto::Address& a) {
        if (!owner->ledger_) return mempool::CommittedAccount{};
        const execution::Account acct = owner->ledger_->account(a);
        return mempool::CommittedAccount{acct.nonce, acct.balance};
      });
  node->commands_ = std::make_unique<CommandPool>(kMaxPendingCommands, kMaxPendingCommandBytes,
                                                  &node->payload_ready_);

  if (transport) {
    node->transport_ = std::move(transport);
  }
  // Otherwise the network transport is created in start_network() (it needs the io thread);
  // until then nothing sends.

  CoreContext ctx;
  ctx.validators = node->validators_.get();
  ctx.self = node->self_;
  ctx.chain_id = node->genesis_.app.chain_id;
  ctx.store = node->store_.get();
  ctx.ledger = nullptr;  // set in create_core()
  ctx.mempool = node->mempool_.get();
  ctx.commands = node->commands_.get();
  ctx.bench_log = &node->bench_log_;
  ctx.metrics = &node->metrics_;
  ctx.transport = nullptr;  // set in start()
  ctx.payload_ready = &node->payload_ready_;
  if (c.signing_journal) {
    OL_TRY_ASSIGN(auto journal, SigningJournal::open(home / "signing.journal"));
    node->journal_.emplace(std::move(journal));
    ctx.journal = &*node->journal_;
  }
  Node* self = node.get();
  ctx.on_commit = [self](types::Height height, const Hash32& id, const types::QuorumCert& qc) {
    if (self->rpc_) self->rpc_->notify_commit();
    self->checkpoints_->on_commit(*self->ledger_, height, id);
    self->publish_commit_notice(height, qc);
  };
  ctx.on_fatal = [self](const Error& e) { self->fail(e); };
  CoreConfig cc;
  cc.replica.pacemaker.base_timeout_ms = c.consensus.round_timeout_base_ms;
  cc.replica.pacemaker.max_timeout_ms = c.consensus.round_timeout_cap_ms;
  cc.batch.max_txs = c.consensus.max_block_txs;
  cc.batch.max_bytes = c.consensus.max_block_bytes;
  cc.commands = c.consensus.payload == "commands";
  cc.empty_block_wait = std::chrono::milliseconds(c.consensus.empty_block_wait_ms);
  cc.min_block_interval = std::chrono::milliseconds(c.consensus.min_block_interval_ms);
  node->core_context_ = std::move(ctx);
  node->core_config_ = cc;
  return node;
}

Status Node::open_ledger() {
  OL_TRY_ASSIGN(ledger_, execution::Ledger::open(*store_, genesis_.app));
  BlockExecutor::Context ec;
  ec.chain_id = genesis_.app.chain_id;
  ec.store = store_.get();
  ec.ledger = ledger_.get();
  ec.mempool = mempool_.get();
  ec.metrics = &metrics_;
  // Blocks synced here are not announced: the validators that committed them did.
  ec.on_commit = [this](types::Height height, const Hash32& id, const types::QuorumCert&) {
    if (rpc_) rpc_->notify_commit();
    checkpoints_->on_commit(*ledger_, height, id);
  };
  executor_ = std::make_unique<BlockExecutor>(std::move(ec));
  metrics_.height.store(ledger_->applied_height());
  return {};
}

void Node::fail(const Error& e) {
  if (fatal_reported_.exchange(true)) return;
  if (fatal_handler_) fatal_handler_(e);
}

std::shared_ptr<Core> Node::core() const {
  std::lock_guard lock(core_mu_);
  return core_;
}

CoreStatus Node::status() const {
  if (auto c = core()) return c->status();
  CoreStatus s;
  const SyncPhase phase = phase_.load();
  if (ledger_ && phase != SyncPhase::state_sync && phase != SyncPhase::starting) {
    s.height = ledger_->applied_height();
    s.state_root = ledger_->state_root();
  }
  s.syncing = phase != SyncPhase::following;
  return s;
}

const char* Node::to_string(SyncPhase p) {
  switch (p) {
    case SyncPhase::starting:
      return "starting";
    case SyncPhase::state_sync:
      return "state_sync";
    case SyncPhase::block_sync:
      return "block_sync";
    case SyncPhase::consensus:
      return "consensus";
    case SyncPhase::following:
      return "following";
  }
  return "unknown";
}

Status Node::create_core() {
  core_context_.ledger = ledger_.get();
  core_context_.transport = transport_.get();
  OL_TRY_ASSIGN(auto created, Core::create(core_context_, *core_key_, core_config_));
  std::shared_ptr<Core> c(std::move(created));
  {
    std::lock_guard lock(core_mu_);
    core_ = c;
  }
  c->start();
  phase_ = SyncPhase::consensus;
  return {};
}

Node::~Node() {
  stop();
}

Status Node::start() {
  if (transport_) {  // a test transport: no p2p host, no sync; consensus at once
    OL_TRY(start_services());
    OL_TRY(create_core());
    return {};
  }
  OL_TRY(start_network());
  sync_server_ = std::make_unique<sync::SyncServer>(*store_, &checkpoints_->checkpoints());
  sync_server_->attach(*host_);
  if (ledger_) OL_TRY(start_services());
  // An exception escaping the sync/consensus start-up must stop the node, not leave it idle.
  p2p::asio::co_spawn(*io_, boot(), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      fail(make_error(Errc::state, std::string("node start-up: ") + x.what()));
    }
  });
  return {};
}

Status Node::start_services() {
  if (services_started_) return {};
  services_started_ = true;
  RpcContext rc;
  rc.chain_id = genesis_.app.chain_id;
  if (is_validator()) rc.node_index = self_;
  rc.commands_mode = core_config_.commands;
  rc.store = store_.get();
  rc.ledger = ledger_.get();
  rc.mempool = mempool_.get();
  rc.commands = commands_.get();
  rc.bench_log = &bench_log_;
  rc.tx_status = &tx_status_;
  rc.metrics = &metrics_;
  rc.transport = transport_.get();
  rc.payload_ready = &payload_ready_;
  rc.core_status = [this] { return status(); };
  rc.sync_phase = [this] { return std::string(to_string(sync_phase())); };
  rc.verify_backlog = [this] { return gossip_backlog_.load(); };
  rc.busy_backlog = kRpcBusyBacklogTxs;
  // Batches from POST /txs are checked on the verifier thread, behind proposals, so that a large
  // batch does not hold up the io thread's network traffic (consensus messages among it).
  rc.offload = [this](std::function<void()> job) { return verify_later(std::move(job)); };
  rc.max_connections = config_.rpc.max_connections;
  OL_TRY_ASSIGN(rpc_, RpcServer::start(*io_, config_.rpc.listen, std::move(rc)));

  verifier_ = std::thread([this] {
    // Between jobs, once a second: drop the transactions that waited too long for a lower nonce.
    constexpr auto kSweepEvery = std::chrono::seconds(1);
    auto next_sweep = std::chrono::steady_clock::now() + kSweepEvery;
    for (;;) {
      if (auto job = verify_queue_.pop_until(next_sweep)) {
        (*job)();
      } else if (verify_queue_.closed()) {
        break;
      }
      if (std::chrono::steady_clock::now() >= next_sweep) {
        drop_expired_transactions();
        next_sweep = std::chrono::steady_clock::now() + kSweepEvery;
      }
    }
  });
  set_thread_name(verifier_, "ol-verify");
  if (is_validator()) {
    spdlog::info("node: validator {} of {} on chain {}; RPC on {}:{} ({} mode)", self_,
                 validators_->size(), genesis_.app.chain_id,
                 config_.rpc.listen.substr(0, config_.rpc.listen.rfind(':')), rpc_->port(),
                 config_.consensus.payload);
  } else {
    spdlog::info("node: full node on chain {} ({} validators); RPC on {}:{}", genesis_.app.chain_id,
                 validators_->size(), config_.rpc.listen.substr(0, config_.rpc.listen.rfind(':')),
                 rpc_->port());
  }
  return {};
}

sync::TrustedBlock Node::trusted_tip() const {
  auto tip = store_->committed_tip();
  if (tip.ok() && *tip) return sync::TrustedBlock{(*tip)->height, (*tip)->hash};
  if (state_synced_) return *state_synced_;
  return sync::TrustedBlock{0, genesis_block_id()};
}

p2p::Task<void> Node::sleep(std::chrono::milliseconds d) {
  p2p::asio::steady_timer t(co_await p2p::asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(p2p::asio::redirect_error(p2p::asio::use_awaitable, ec));
}

p2p::Task<void> Node::wait_for_peers(std::chrono::milliseconds max_wait) {
  // Validators: until a quorum (counting self) is connected; full nodes: any peer.
  const std::size_t want = is_validator() ? validators_->quorum() - 1 : 1;
  const auto end = Clock::now() + max_wait;
  while (!stopping_ && Clock::now() < end) {
    const NetworkStats net = transport_->stats();
    if ((is_validator() ? net.validator_peers : net.peers) >= want) break;
    co_await sleep(std::chrono::milliseconds(100));
  }
}

p2p::Task<void> Node::boot() {
  co_await wait_for_peers(std::chrono::milliseconds(is_validator() ? 3000 : 10'000));
  const Hash32& gid = genesis_block_id();
  if (!ledger_) {
    phase_ = SyncPhase::state_sync;
    const auto t0 = Clock::now();
    constexpr int kStateSyncAttempts = 20;
    int attempts = 0;
    for (;;) {
      if (stopping_) co_return;
      auto peers = host_->peers();
      if (peers.empty()) {
        co_await sleep(std::chrono::milliseconds(500));
        continue;
      }
      spdlog::info("sync: state sync: asking {} peers for their newest checkpoint", peers.size());
      sync::StateSyncConfig sc;
      sc.request_timeout = std::chrono::milliseconds(3 * config_.sync.request_timeout_ms);
      auto r =
          co_await sync::state_sync(*host_, peers, *validators_, gid, *store_, genesis_.app, sc);
      for (const auto& d : r ? r->dropped : std::vector<sync::DroppedPeer>{}) {
        spdlog::warn("sync: state sync dropped peer {}: {}", d.peer.to_string(),
                     d.reason.to_string());
      }
      if (r) {
        spdlog::info(
            "sync: state sync installed the checkpoint at height {} ({} accounts, {} chunks, "
            "root {}) in {:.1f} s",
            r->height, r->accounts, r->chunks, to_hex(r->state_root), seconds_since(t0));
        state_synced_ = r->trusted();
        break;
      }
      if (r.error().code != Errc::not_found) {
        fail(make_error(r.error().code, "state sync: " + r.error().message));
        co_return;
      }
      // A young chain may have no checkpoint yet: after ~20 s of asking, start from genesis
      // (block sync from height 1) rather than wait for one forever.
      if (++attempts >= kStateSyncAttempts) {
        spdlog::warn("sync: state sync: {} after {} attempts; block-syncing from genesis instead",
                     r.error().message, attempts);
        break;
      }
      spdlog::info("sync: state sync: {}; retrying", r.error().message);
      co_await sleep(std::chrono::milliseconds(1000));
    }
    if (auto s = open_ledger(); !s) co_return fail(s.error());
    if (auto s = start_services(); !s) co_return fail(s.error());
  }

  phase_ = SyncPhase::block_sync;
  for (;;) {
    if (auto s = co_await catch_up("startup"); !s) co_return fail(s.error());
    if (stopping_) co_return;
    // A validator needs a committed block in its store to resume consensus from (after a state
    // sync the store holds none until block sync delivered one).
    auto tip = store_->committed_tip();
    if (!is_validator() || !state_synced_ || (tip.ok() && tip->has_value())) break;
    co_await sleep(std::chrono::milliseconds(config_.sync.poll_ms));
  }
  if (!is_validator()) {
    phase_ = SyncPhase::following;
    co_await follow();
    co_return;
  }
  if (auto s = create_core(); !s) co_return fail(s.error());
  if (config_.sync.catch_up_lag > 0) co_await watch_lag();
}

p2p::Task<Status> Node::catch_up(const char* why) {
  const auto t0 = Clock::now();
  const std::uint64_t from = ledger_->applied_height();
  std::uint64_t total = 0;
  sync::BlockSyncConfig bc;
  bc.batch = config_.sync.batch;
  bc.request_timeout = std::chrono::milliseconds(config_.sync.request_timeout_ms);
  auto last_log = t0;
  std::uint64_t logged_height = from;
  bool deliver_failed = false;
  std::uint64_t runs = 0, previous_run = 0;  // completed runs, and the blocks of the last one
  for (;;) {
    if (stopping_) co_return ok_status();
    auto peers = host_->peers();
    if (peers.empty()) break;
    sync::BlockSync bs(*host_, *validators_, genesis_block_id(), trusted_tip(), bc,
                       [&](std::vector<sync::CertifiedBlock> blocks) -> Status {
                         if (stopping_) return make_error(Errc::state, "node stopping");
                         auto s = executor_->deliver(std::move(blocks));
                         if (!s) {
                           deliver_failed = true;
                           return s;
                         }
                         const auto now = Clock::now();
                         if (now - last_log >= std::chrono::seconds(2)) {
                           const std::uint64_t h = ledger_->applied_height();
                           spdlog::info("sync: at height {} (+{} blocks, {:.0f} blocks/s)", h,
                                        h - logged_height,
                                        (h - logged_height) /
                                            std::chrono::duration<double>(now - last_log).count());
                           last_log = now;
                           logged_height = h;
                         }
                         return s;
                       });
    Status st = co_await bs.run(std::move(peers));
    total += bs.report().blocks;
    for (const auto& d : bs.report().dropped) {
      spdlog::warn("sync: dropped peer {} for this run: {}", d.peer.to_string(),
                   d.reason.to_string());
    }
    if (stopping_) co_return ok_status();
    if (!st) {
      if (deliver_failed) {
        co_return make_error(st.error().code, "block sync: " + st.error().message);
      }
      if (bs.report().blocks == 0) break;  // nobody could serve us right now
      continue;
    }
    // Done when a run found (almost) nothing new: consensus delivers the last block or two. Also
    // done when a run found no fewer blocks than the one before: each run ends at a tip its
    // peers reported, so the chain grows about as fast as a run takes (a round trip at least),
    // and chasing it would never end; consensus's own block requests fetch that small rest.
    const std::uint64_t got = bs.report().blocks;
    if (got <= 2 || (runs > 0 && got >= previous_run)) break;
    previous_run = got;
    ++runs;
  }
  const double secs = seconds_since(t0);
  if (total >= 100 || secs >= 1.0 || std::string_view(why) != "follow") {
    spdlog::info("sync ({}): {} blocks, height {} -> {}, in {:.2f} s ({:.0f} blocks/s)", why, total,
                 from, ledger_->applied_height(), secs, secs > 0 ? total / secs : 0.0);
  }
  co_return ok_status();
}

p2p::Task<void> Node::follow() {
  // A catch-up on every commit notice that names a height above ours (at most one per
  // kMinFollowGap), else every poll_ms (no notices: a quiet chain, or no validator reachable).
  constexpr auto kMinFollowGap = std::chrono::milliseconds(20);
  while (!stopping_) {
    if (auto s = co_await catch_up("follow"); !s) co_return fail(s.error());
    co_await sleep(kMinFollowGap);
    if (stopping_ || notified_height_ > ledger_->applied_height()) continue;
    p2p::asio::steady_timer poll(co_await p2p::asio::this_coro::executor,
                                 std::chrono::milliseconds(config_.sync.poll_ms));
    follow_timer_ = &poll;
    boost::system::error_code ec;
    co_await poll.async_wait(p2p::asio::redirect_error(p2p::asio::use_awaitable, ec));
    follow_timer_ = nullptr;
  }
}

void Node::publish_commit_notice(types::Height height, const types::QuorumCert& qc) {
  if (!network_) return;  // in-process hub or no network: nobody follows by gossip
  std::static_pointer_cast<network::NetworkManager>(network_)->broadcast(
      network::kQcsTopic, codec::encode(sync::CommitNotice{height, qc}));
}

void Node::on_commit_notice(ByteView data) {
  auto notice = codec::decode_exact<sync::CommitNotice>(data);  // validated: it decodes
  if (!notice || notice->height <= notified_height_) return;
  notified_height_ = notice->height;
  if (follow_timer_ != nullptr && ledger_ && notice->height > ledger_->applied_height()) {
    follow_timer_->cancel();
  }
}

p2p::Task<void> Node::watch_lag() {
  const auto period =
      std::chrono::milliseconds(std::max<std::uint32_t>(config_.sync.poll_ms, 1000));
  const std::uint64_t lag = config_.sync.catch_up_lag;
  std::size_t next = 0;
  auto stuck_since = Clock::now();
  auto quiet_until = Clock::now();
  while (!stopping_) {
    co_await sleep(period);
    if (stopping_) co_return;
    auto c = core();
    if (!c) co_return;
    if (!c->status().syncing) stuck_since = Clock::now();
    auto peers = host_->peers();
    if (peers.empty() || Clock::now() < quiet_until) continue;
    const std::uint64_t h = ledger_->applied_height();
    // Ask the peers in turn until one answers: one whose connection just broke (as after this
    // process was stopped for a while) must not delay the check by a period, in which
    // consensus's own block requests would be left to fetch a long gap.
    const auto answer =
        co_await sync::ask_tip(*host_, peers, next, h, std::chrono::milliseconds(2000), stopping_);
    if (stopping_) co_return;
    if (!answer || answer->height <= h) continue;
    const std::uint64_t tip = answer->height;
    // Far behind, or consensus has been trying to fetch missing blocks for 5 s and a peer is
    // ahead: leave consensus and block-sync. (A peer lying about its tip costs one sync run that
    // finds nothing; then the check rests for 30 s.)
    const bool far = tip > h + lag;
    const bool stuck = tip > h + 2 && Clock::now() - stuck_since > std::chrono::seconds(5);
    if (!far && !stuck) continue;
    spdlog::info("sync: peer {} reports height {}, ours is {}{}: leaving consensus to block-sync",
                 answer->peer.to_string(), tip, h, far ? "" : " (consensus stuck syncing)");
    {
      std::lock_guard lock(core_mu_);
      core_.reset();
    }
    c->stop();
    c.reset();
    phase_ = SyncPhase::block_sync;
    if (auto s = co_await catch_up("runtime"); !s) co_return fail(s.error());
    if (stopping_) co_return;
    if (ledger_->applied_height() < h + 2) quiet_until = Clock::now() + std::chrono::seconds(30);
    if (auto s = create_core(); !s) co_return fail(s.error());
    stuck_since = Clock::now();
  }
}

Status Node::start_network() {
  const NodeConfig& c = config_;
  network::Config nc;
  OL_TRY_ASSIGN(nc.listen, p2p::Multiaddr::parse(c.network.listen));
  for (const auto& b : c.network.bootstrap) {
    OL_TRY_ASSIGN(auto addr, p2p::Multiaddr::parse(b));
    nc.bootstrap.push_back(std::move(addr));
  }
  for (const auto& v : genesis_.validators) {
    OL_TRY_ASSIGN(auto addr, p2p::Multiaddr::parse(v.p2p_address));
    nc.validators.push_back(network::ValidatorPeer{v.public_key, std::move(addr)});
  }
  nc.max_peers = c.network.max_peers;
  nc.connection_timeout = std::chrono::milliseconds(c.network.connection_timeout_ms);
  nc.redial_base = std::chrono::milliseconds(c.network.redial_base_ms);
  nc.redial_cap = std::chrono::milliseconds(c.network.redial_cap_ms);
  nc.peer_max_msgs_per_sec = c.network.peer_max_msgs_per_sec;
  nc.peer_max_bytes_per_sec = static_cast<double>(c.network.peer_max_bytes_per_sec);
  nc.gossip.heartbeat = std::chrono::milliseconds(c.network.heartbeat_ms);
  nc.frame_check = [](ByteView frame) { return consensus::decode_message(frame).ok(); };
  // Validators commit by consensus and ignore each other's commit notices, so they do not
  // subscribe to them: a notice goes from its validator to the full nodes only (fanout).
  if (is_validator()) nc.publish_only.emplace_back(network::kQcsTopic);
  // A full node has no validator key: a fresh p2p identity per run.
  auto net = network::NetworkManager::create(
      *io_, p2p::Identity(core_key_ ? *core_key_ : crypto::Ed25519KeyPair::generate()),
      std::move(nc));
  // A transactions message that is not a well-formed batch is rejected before it is forwarded
  // (gossipsub penalises the peer that sent it); the transactions of a well-formed batch are
  // then admitted, or rejected, one by one.
  net->set_gossip_validator(network::kTransactionsTopic, [](const p2p::gossipsub::Message& m) {
    return types::decode_tx_batch(m.data) ? p2p::gossipsub::ValidationResult::accept
                                          : p2p::gossipsub::ValidationResult::reject;
  });
  // Commit notices matter to full nodes only: they check the QC (a bad one is the sender's
  // fault) and pass good ones on to other full nodes. Validators do not subscribe (publish_only
  // above), so only their own notices, on publishing, pass here; anything else is ignored.
  net->set_gossip_validator(
      network::kQcsTopic, [this, self_id = net->peer_id()](const p2p::gossipsub::Message& m) {
        using p2p::gossipsub::ValidationResult;
        if (is_validator()) {
          return m.from == self_id ? ValidationResult::accept : ValidationResult::ignore;
        }
        auto notice = codec::decode_exact<sync::CommitNotice>(m.data);
        if (!notice) {
          spdlog::debug("sync: rejected a commit notice: {}", notice.error().to_string());
          return ValidationResult::reject;
        }
        if (auto v = sync::verify_commit_notice(*notice, *validators_, genesis_block_id()); !v) {
          spdlog::debug("sync: rejected a commit notice for height {}: {}", notice->height,
                        v.error().to_string());
          return ValidationResult::reject;
        }
        return ValidationResult::accept;
      });
  net->on_event([this](const network::Event& event) {
    std::visit(
        [this](const auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, network::DirectReceived>) {
            on_consensus_frame(e.from, e.frame);
          } else if constexpr (std::is_same_v<E, network::GossipReceived>) {
            if (e.topic == network::kTransactionsTopic) on_transaction_gossip(e.data);
            if (e.topic == network::kQcsTopic && !is_validator()) on_commit_notice(e.data);
          } else if constexpr (std::is_same_v<E, network::PeerConnected>) {
            if (e.validator) spdlog::info("net: validator {} connected", *e.validator);
          } else if constexpr (std::is_same_v<E, network::PeerDisconnected>) {
            if (e.validator) {
              spdlog::info("net: validator {} disconnected ({})", *e.validator, e.reason);
            }
          } else if constexpr (std::is_same_v<E, network::PartitionDetected>) {
            spdlog::warn("net: partitioned: {} of {} validators reachable", e.connected_validators,
                         e.required);
          } else if constexpr (std::is_same_v<E, network::PartitionHealed>) {
            spdlog::info("net: partition healed ({} validators reachable)", e.connected_validators);
          }
        },
        event);
  });
  OL_TRY_ASSIGN(auto bound, net->start());
  spdlog::info("net: listening on {}", bound.to_string());
  transport_ = std::make_shared<NetworkTransport>(*io_, net);
  host_ = net->host();
  network_ = net;
  return {};
}

void Node::stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_ = true;
  if (rpc_) rpc_->stop();
  verify_queue_.close();
  if (verifier_.joinable()) verifier_.join();
  if (auto c = core()) c->stop();
  if (network_) std::static_pointer_cast<network::NetworkManager>(network_)->stop();
  if (store_) {
    if (auto s = store_->flush(); !s) spdlog::warn("node: store flush: {}", s.error().to_string());
  }
}

void Node::drop_expired_transactions() {
  const auto dropped = mempool_->drop_expired();
  if (dropped.empty()) return;
  for (const auto& d : dropped) {
    tx_status_.reject(d.tx->hash, "dropped: waited " +
                                      std::to_string(config_.mempool.future_lifetime_ms) +
                                      " ms for nonce " + std::to_string(d.missing_nonce) +
                                      " of its sender, which never arrived");
  }
  metrics_.tx_expired_total.fetch_add(dropped.size());
  spdlog::info("mempool: dropped {} transactions that waited {} ms for a lower nonce",
               dropped.size(), config_.mempool.future_lifetime_ms);
}

bool Node::verify_later(std::function<void()> job, bool urgent) {
  return urgent ? verify_queue_.push_urgent(std::move(job)) : verify_queue_.push(std::move(job));
}

void Node::on_consensus_frame(types::ValidatorIndex from, ByteView frame) {
  auto c = core();
  if (!c) return;  // catching up (or a full node): consensus input is not needed
  auto message = consensus::decode_message(frame);
  if (!message) return;
  if (!carries_transactions(*message)) {
    c->deliver(InboundMessage{from, std::move(*message), {}});
    return;
  }
  auto shared = std::make_shared<consensus::Message>(std::move(*message));
  verify_later(
      [this, from, shared] {
        auto resolved = resolve_transactions(*shared, *mempool_, genesis_.app.chain_id,
                                             ledger_->applied_height());
        if (auto now = core()) {
          now->deliver(InboundMessage{from, std::move(*shared), std::move(resolved)});
        }
      },
      /*urgent=*/true);
}

void Node::on_transaction_gossip(ByteView batch) {
  if (core_config_.commands || !services_started_) return;
  auto txs = types::decode_tx_batch(batch);
  if (!txs) {  // the network's validator rejects these first; counted like a bad transaction
    metrics_.tx_rejected_total.fetch_add(1);
    return;
  }
  // Shed gossip rather than let it delay the verification of proposals, which share the
  // verifier thread: a dropped transaction stays in its origin's mempool and is verified here
  // when a proposal carries it.
  const std::size_t n = txs->size();
  if (gossip_backlog_.fetch_add(n) + n > kMaxGossipBacklogTxs) {
    gossip_backlog_.fetch_sub(n);
    metrics_.tx_gossip_shed_total.fetch_add(n);
    return;
  }
  const bool queued = verify_later([this, n, bytes = to_bytes(batch)] {
    bool any = false;
    const auto decoded = types::decode_tx_batch(bytes);  // well-formed: checked above
    for (ByteView encoded : *decoded) {
      // A proposal arriving meanwhile is resolved first, not after the rest of this batch
      // (up to 256 recoveries): it is on the round's critical path, gossip is not.
      while (auto urgent = verify_queue_.pop_urgent()) (*urgent)();
      auto admitted = mempool_->add_encoded(encoded);
      if (admitted) {
        any = true;
      } else if (!mempool::is_duplicate(admitted.error())) {
        metrics_.tx_rejected_total.fetch_add(1);
      }
    }
    gossip_backlog_.fetch_sub(n);
    if (any) payload_ready_.notify();
  });
  if (!queued) {  // the verifier queue itself is full
    gossip_backlog_.fetch_sub(n);
    metrics_.tx_gossip_shed_total.fetch_add(n);
  }
}

}  // namespace ol::node
