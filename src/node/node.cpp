#include "node/node.h"

#include <spdlog/spdlog.h>

#include "consensus/messages.h"
#include "crypto/ed25519.h"

#include "network/network_manager.h"

namespace ol::node {
namespace {

constexpr std::size_t kMaxPendingCommands = 1'000'000;
constexpr std::size_t kMaxPendingCommandBytes = 256u << 20;

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

/// The Transport on the real p2p network.
class NetworkTransport final : public Transport {
 public:
  explicit NetworkTransport(std::shared_ptr<network::NetworkManager> net) : net_(std::move(net)) {}
  void send_to(types::ValidatorIndex to, Bytes frame) override {
    net_->send_to_peer(to, std::move(frame));
  }
  void send_to_validators(Bytes frame) override { net_->send_to_validators(std::move(frame)); }
  void publish_transaction(Bytes encoded) override {
    net_->broadcast(network::kTransactionsTopic, std::move(encoded));
  }
  NetworkStats stats() const override {
    const network::Health h = net_->health();
    return NetworkStats{h.connected_peers, h.validator_peers, h.partitioned, h.messages_received,
                        h.messages_sent,   h.bytes_received,  h.bytes_sent};
  }

 private:
  std::shared_ptr<network::NetworkManager> net_;
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
  auto key = crypto::load_ed25519_key_file(home / c.validator_key);
  if (!key) {
    return make_error(key.error().code,
                      "validator key: " + key.error().message +
                          " (this version runs validators only; full nodes are not supported yet)");
  }
  const auto& vals = node->genesis_.validators;
  auto me = std::find_if(vals.begin(), vals.end(), [&](const GenesisValidator& v) {
    return v.public_key == key->public_key();
  });
  if (me == vals.end()) {
    return make_error(Errc::invalid_argument, "the validator key in " + c.validator_key +
                                                  " is not in the genesis validator set");
  }
  node->self_ = static_cast<types::ValidatorIndex>(me - vals.begin());

  storage::Options so;
  so.keep_blocks = c.storage.keep_blocks;
  OL_TRY_ASSIGN(node->store_, storage::Store::open(home / c.storage.path, so));
  OL_TRY_ASSIGN(node->ledger_, execution::Ledger::open(*node->store_, node->genesis_.app));

  mempool::Limits limits;
  limits.max_txs = c.mempool.capacity;
  auto* ledger = node->ledger_.get();
  node->mempool_ = std::make_unique<mempool::Mempool>(
      node->genesis_.app.chain_id, limits,
      [ledger](const crypto::Address& a) { return ledger->next_nonce(a); });
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
  ctx.ledger = node->ledger_.get();
  ctx.mempool = node->mempool_.get();
  ctx.commands = node->commands_.get();
  ctx.bench_log = &node->bench_log_;
  ctx.tx_status = &node->tx_status_;
  ctx.metrics = &node->metrics_;
  ctx.transport = nullptr;  // set in start()
  ctx.payload_ready = &node->payload_ready_;
  Node* self = node.get();
  ctx.on_commit = [self] {
    if (self->rpc_) self->rpc_->notify_commit();
  };
  ctx.on_fatal = [self](const Error& e) {
    if (self->fatal_reported_.exchange(true)) return;
    if (self->fatal_handler_) self->fatal_handler_(e);
  };
  CoreConfig cc;
  cc.replica.pacemaker.base_timeout_ms = c.consensus.round_timeout_base_ms;
  cc.replica.pacemaker.max_timeout_ms = c.consensus.round_timeout_cap_ms;
  cc.batch.max_txs = c.consensus.max_block_txs;
  cc.batch.max_bytes = c.consensus.max_block_bytes;
  cc.commands = c.consensus.payload == "commands";
  cc.empty_block_wait = std::chrono::milliseconds(c.consensus.empty_block_wait_ms);
  node->core_context_ = std::move(ctx);
  node->core_config_ = cc;
  node->core_key_ = std::move(*key);
  return node;
}

Node::~Node() {
  stop();
}

Status Node::start() {
  if (!transport_) OL_TRY(start_network());
  core_context_.transport = transport_.get();
  OL_TRY_ASSIGN(core_, Core::create(core_context_, *core_key_, core_config_));

  RpcContext rc;
  rc.chain_id = genesis_.app.chain_id;
  rc.node_index = self_;
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
  Core* core = core_.get();
  rc.core_status = [core] { return core->status(); };
  OL_TRY_ASSIGN(rpc_, RpcServer::start(*io_, config_.rpc.listen, std::move(rc)));

  verifier_ = std::thread([this] {
    while (auto job = verify_queue_.pop_until(std::chrono::steady_clock::time_point::max())) {
      (*job)();
    }
  });
  core_->start();
  spdlog::info("node: validator {} of {} on chain {}; RPC on {}:{} ({} mode)", self_,
               validators_->size(), genesis_.app.chain_id,
               config_.rpc.listen.substr(0, config_.rpc.listen.rfind(':')), rpc_->port(),
               config_.consensus.payload);
  return {};
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
  auto net = network::NetworkManager::create(*io_, p2p::Identity(*core_key_), std::move(nc));
  net->on_event([this](const network::Event& event) {
    std::visit(
        [this](const auto& e) {
          using E = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<E, network::DirectReceived>) {
            on_consensus_frame(e.from, e.frame);
          } else if constexpr (std::is_same_v<E, network::GossipReceived>) {
            if (e.topic == network::kTransactionsTopic) on_transaction_gossip(e.data);
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
  transport_ = std::make_shared<NetworkTransport>(net);
  network_ = net;
  return {};
}

void Node::stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (rpc_) rpc_->stop();
  verify_queue_.close();
  if (verifier_.joinable()) verifier_.join();
  if (core_) core_->stop();
  if (network_) std::static_pointer_cast<network::NetworkManager>(network_)->stop();
  if (store_) {
    if (auto s = store_->flush(); !s) spdlog::warn("node: store flush: {}", s.error().to_string());
  }
}

bool Node::verify_later(std::function<void()> job) {
  return verify_queue_.push(std::move(job));
}

void Node::on_consensus_frame(types::ValidatorIndex from, ByteView frame) {
  auto message = consensus::decode_message(frame);
  if (!message || !core_) return;
  if (!carries_transactions(*message)) {
    core_->deliver(InboundMessage{from, std::move(*message), {}});
    return;
  }
  auto shared = std::make_shared<consensus::Message>(std::move(*message));
  verify_later([this, from, shared] {
    auto resolved = resolve_transactions(*shared, *mempool_, genesis_.app.chain_id);
    core_->deliver(InboundMessage{from, std::move(*shared), std::move(resolved)});
  });
}

void Node::on_transaction_gossip(ByteView encoded) {
  if (core_config_.commands) return;
  verify_later([this, bytes = to_bytes(encoded)] {
    auto admitted = mempool_->add_encoded(bytes);
    if (admitted) {
      tx_status_.set((*admitted)->hash, TxStatus{TxState::pending, 0, {}});
      payload_ready_.notify();
    } else if (admitted.error().message != "already known") {
      metrics_.tx_rejected_total.fetch_add(1);
    }
  });
}

}  // namespace ol::node
