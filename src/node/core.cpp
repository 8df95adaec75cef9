#include "node/core.h"

#include <spdlog/spdlog.h>

#include "common/hex.h"
#include "common/thread_name.h"

namespace ol::node {
namespace {

using Clock = std::chrono::steady_clock;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::uint64_t unix_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

const std::vector<types::Transaction>* transactions_of(const types::Block& b) {
  return std::get_if<std::vector<types::Transaction>>(&b.payload);
}
const std::vector<types::Command>* commands_of(const types::Block& b) {
  return std::get_if<std::vector<types::Command>>(&b.payload);
}
bool has_payload(const types::Block& b) {
  return std::visit([](const auto& items) { return !items.empty(); }, b.payload);
}

std::string short_hex(const Hash32& h) {
  return to_hex(ByteView(h).first(6));
}

}  // namespace

std::vector<ResolvedBlock> resolve_transactions(const consensus::Message& message,
                                                mempool::Mempool& pool, std::uint64_t chain_id,
                                                types::Height executed) {
  std::vector<ResolvedBlock> out;
  auto resolve = [&](const types::Block& b) {
    const auto* txs = transactions_of(b);
    if (txs == nullptr || txs->empty()) return;
    ResolvedBlock r{b.compute_id(), {}, true};
    r.txs.reserve(txs->size());
    for (const auto& tx : *txs) {
      // Admitted here, or refused after its check (e.g. while this node had not yet committed
      // the block that funds its sender): its signature was checked then; never check it twice.
      if (auto known = pool.verified(tx.hash())) {
        r.txs.push_back(std::move(known));
        continue;
      }
      auto verified = types::VerifiedTransaction::verify(tx, chain_id);
      if (!verified) {
        r.valid = false;
        r.txs.clear();
        break;
      }
      auto ref = std::make_shared<const types::VerifiedTransaction>(std::move(*verified));
      // Pooled, so that its gossip copy (perhaps still queued behind this proposal) is "already
      // known" rather than recovered again, and so that we can propose it ourselves should this
      // block fail. Refusals (nonce, capacity) change nothing here.
      (void)pool.add_verified(ref);
      r.txs.push_back(std::move(ref));
    }
    out.push_back(std::move(r));
  };
  if (const auto* p = std::get_if<consensus::ProposalMsg>(&message)) {
    resolve(p->block);
  } else if (const auto* s = std::get_if<consensus::SyncResponse>(&message)) {
    for (const auto& b : s->blocks) {
      if (b.height > executed) resolve(b);
    }
  }
  return out;
}

Core::Core(CoreContext context, CoreConfig config)
    : ctx_(std::move(context)), config_(config), queue_(config.queue_capacity) {}

Core::~Core() {
  stop();
}

Result<std::unique_ptr<Core>> Core::create(CoreContext context, crypto::Ed25519KeyPair key,
                                           CoreConfig config) {
  std::unique_ptr<Core> core(new Core(std::move(context), config));
  CoreContext& c = core->ctx_;
  OL_TRY_ASSIGN(auto recovery, load_recovery(*c.store));
  if (c.ledger->applied_height() != recovery.root.height) {
    return make_error(Errc::state, "state at height " + std::to_string(c.ledger->applied_height()) +
                                       " but the committed block is at height " +
                                       std::to_string(recovery.root.height));
  }
  core->status_.height = recovery.root.height;
  c.metrics->height.store(recovery.root.height);
  core->status_.state_root = c.ledger->state_root();
  core->safety_storage_ = std::make_unique<StoreSafetyStorage>(*c.store);
  core->committed_blocks_ = std::make_unique<StoreCommittedBlocks>(*c.store);
  core->leaders_ = std::make_unique<consensus::RoundRobinLeaders>(c.validators->size());
  spdlog::info(
      "core: validator {} of {}, restarting from height {} (round {}), last voted round {}, "
      "high QC round {}, last TC round {}",
      c.self, c.validators->size(), recovery.root.height, recovery.root.round,
      recovery.safety.last_voted_round, recovery.high_qc ? recovery.high_qc->round : 0,
      recovery.last_tc ? recovery.last_tc->round : 0);
  core->replica_ = std::make_unique<consensus::Replica>(
      *c.validators, c.self, std::move(key), config.replica, std::move(recovery),
      *core->safety_storage_, *core->leaders_, *core, core->committed_blocks_.get());
  return core;
}

void Core::start() {
  thread_ = std::thread([this] { run(); });
  set_thread_name(thread_, "ol-core");
}

void Core::stop() {
  stopping_ = true;
  queue_.close();
  if (ctx_.payload_ready != nullptr) ctx_.payload_ready->notify();  // ends a leader's wait
  if (thread_.joinable()) thread_.join();
}

bool Core::deliver(InboundMessage message) {
  if (queue_.push(std::move(message))) return true;
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

CoreStatus Core::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

void Core::run() {
  apply(replica_->start(unix_ms()));
  publish_status();
  while (!stopping_ && !failed_) {
    const auto deadline = timer_ ? timer_->deadline : Clock::now() + std::chrono::hours(1);
    auto in = queue_.pop_until(deadline);
    if (stopping_) break;
    if (in) handle(*in);
    if (timer_ && Clock::now() >= timer_->deadline && !failed_) {
      const types::Round round = timer_->round;
      timer_.reset();
      if (round == replica_->current_round()) ctx_.metrics->timeouts_total.fetch_add(1);
      apply(replica_->on_timer(unix_ms(), round));
    }
    publish_status();
  }
}

void Core::handle(InboundMessage& in) {
  if (std::holds_alternative<consensus::ProposalMsg>(in.message) && !proposal_acceptable(in)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (const auto* p = std::get_if<consensus::ProposalMsg>(&in.message)) {
    last_proposal_ = Clock::now();
    // The block's certificate first, alone, so that the replica has committed what it commits
    // before it decides on its vote. Those blocks are executed after the vote has left: the
    // proposer anchored only what it had executed before its own certificate committed them,
    // and the replay check counts held commits as ancestors. Only a proposal anchoring a height
    // these commits produce (its proposer executed them first) has them executed before.
    hold_commits_ = true;
    apply(replica_->on_message(unix_ms(), in.from, consensus::SyncInfo{p->block.justify, p->tc}));
    hold_commits_ = false;
    if (failed_) return;
    if (!held_commits_.empty() && p->block.exec_height > ctx_.ledger->applied_height()) {
      run_held_commits();
      if (failed_) return;
    }
  }
  current_ = &in;
  apply(replica_->on_message(unix_ms(), in.from, in.message));
  current_ = nullptr;
}

// What the replica cannot judge: the payload's contents and the execution state it claims.
bool Core::proposal_acceptable(const InboundMessage& in) {
  const auto& block = std::get<consensus::ProposalMsg>(in.message).block;
  if (has_payload(block) && (commands_of(block) != nullptr) != config_.commands) {
    spdlog::warn("core: proposal for round {} carries the wrong payload kind; not voting",
                 block.round);
    return false;
  }
  for (const auto& r : in.resolved) {
    if (!r.valid) {
      spdlog::warn(
          "core: proposal for round {} from validator {} holds an invalid transaction; "
          "not voting",
          block.round, block.proposer);
      return false;
    }
  }
  return true;
}

void Core::apply(consensus::Effects effects) {
  for (auto& effect : effects) {
    if (failed_) return;
    std::visit(
        Overloaded{
            [&](consensus::SendTo& e) {
              if (!journal(e.message)) return;
              ctx_.transport->send_to(e.to, consensus::encode_message(e.message));
            },
            [&](consensus::Broadcast& e) {
              if (!journal(e.message)) return;
              ctx_.transport->send_to_validators(consensus::encode_message(e.message));
            },
            [&](consensus::PersistBlock& e) { persist(e.block, e.id); },
            [&](consensus::Commit& e) { held_commits_.push_back(std::move(e)); },
            [&](consensus::RequestBlocks& e) {
              spdlog::debug("core: asking validator {} for block {} above height {}", e.to,
                            short_hex(e.request.block_id), e.request.above_height);
              ctx_.transport->send_to(e.to, consensus::encode_message(e.request));
            },
            [&](consensus::SetTimer& e) {
              timer_ = Timer{Clock::now() + std::chrono::milliseconds(e.duration_ms), e.round};
            },
        },
        effect);
  }
  // The proposal just sent went ahead of this replica's own vote on it (Replica::has_own_input).
  if (!failed_ && replica_->has_own_input()) apply(replica_->on_own_input(unix_ms()));
  if (!hold_commits_) run_held_commits();
  const types::Round round = replica_->current_round();
  if (round != last_round_) {
    last_round_ = round;
    ctx_.metrics->rounds_total.fetch_add(1);
    ctx_.metrics->round.store(round);
  }
}

void Core::run_held_commits() {
  auto commits = std::move(held_commits_);
  held_commits_.clear();
  for (auto& c : commits) {
    if (failed_) return;
    commit(c.block, c.certificate);
  }
}

bool Core::journal(const consensus::Message& m) {
  if (ctx_.journal == nullptr) return true;
  if (auto s = ctx_.journal->record(m); !s) {
    fatal(s.error());
    return false;
  }
  return true;
}

void Core::persist(const types::Block& block, const Hash32& id) {
  if (!persisted_.contains(id)) {
    storage::WriteBatch batch;
    batch.put_block(id, codec::encode(block));
    if (auto s = ctx_.store->write(batch); !s) return fatal(s.error());
    persisted_.emplace(id, block.height);
  }
  const auto* txs = transactions_of(block);
  if (txs == nullptr || txs->empty() || block_txs_.contains(id)) return;
  BlockTxs entry{block.height, {}};
  if (current_ != nullptr) {
    for (const auto& r : current_->resolved) {
      if (r.id == id && r.valid) entry.txs = r.txs;
    }
  }
  if (entry.txs.empty() && own_payload_ && block.proposer == ctx_.self &&
      block.round == own_payload_->first && own_payload_->second.size() == txs->size()) {
    entry.txs = std::move(own_payload_->second);
    own_payload_.reset();
  }
  if (entry.txs.empty()) entry.txs = resolve_for_commit(block, ctx_.chain_id, ctx_.mempool, "core");
  block_txs_.emplace(id, std::move(entry));
}

const std::vector<types::TxRef>& Core::block_txs(const types::Block& block, const Hash32& id) {
  auto it = block_txs_.find(id);
  if (it == block_txs_.end()) {
    // Resolved off this thread with the input being handled (a proposal being voted on)?
    if (current_ != nullptr) {
      for (const auto& r : current_->resolved) {
        if (r.id == id && r.valid)
          return block_txs_.emplace(id, BlockTxs{block.height, r.txs}).first->second.txs;
      }
    }
    it = block_txs_
             .emplace(id, BlockTxs{block.height,
                                   resolve_for_commit(block, ctx_.chain_id, ctx_.mempool, "core")})
             .first;
  }
  return it->second.txs;
}

void Core::commit(const types::Block& block, const types::QuorumCert& qc) {
  const Hash32& id = qc.block_id;  // a commit's certificate is for its block
  static const std::vector<types::TxRef> kNone;
  const auto* tx_payload = transactions_of(block);
  const auto& txs = tx_payload && !tx_payload->empty() ? block_txs(block, id) : kNone;

  auto outcome =
      ctx_.ledger->apply_block(execution::BlockInfo{block.height, block.timestamp_ms, id}, txs);
  if (!outcome) return fatal(outcome.error());
  auto commit_batch = build_commit_batch(*ctx_.store, block, id, qc, persisted_.contains(id),
                                         std::move(outcome->writes), outcome->receipts);
  if (auto s = ctx_.store->write(commit_batch); !s) return fatal(s.error());

  // Durable: now it may be reported.
  const std::uint64_t now = unix_ms();
  Metrics& m = *ctx_.metrics;
  m.commits_total.fetch_add(1);
  m.height.store(block.height);
  m.txs_committed_total.fetch_add(txs.size());
  m.commit_latency.observe(now >= block.timestamp_ms ? (now - block.timestamp_ms) / 1000.0 : 0.0);
  if (!txs.empty()) ctx_.mempool->remove_committed(txs);
  if (const auto* cmds = commands_of(block)) {
    if (!cmds->empty()) ctx_.commands->remove(*cmds);
    ctx_.bench_log->record(block.height, now, *cmds);
  }
  {
    std::lock_guard lock(status_mu_);
    status_.height = block.height;
    status_.last_commit_ms = now;
    status_.state_root = outcome->state_root;
  }
  spdlog::debug("core: committed height {} round {} ({} txs) root {}", block.height, block.round,
                txs.size(), short_hex(outcome->state_root));

  std::erase_if(block_txs_, [&](const auto& e) { return e.second.height <= block.height; });
  std::erase_if(persisted_, [&](const auto& e) { return e.second <= block.height; });
  if (ctx_.on_commit) ctx_.on_commit(block.height, id, qc);
}

mempool::PendingNonces Core::ancestor_nonces(const Hash32& parent_id, bool* recent_payload,
                                             CommandIdSet* in_flight) {
  const consensus::BlockTree& tree = replica_->tree();
  const types::Height executed = ctx_.ledger->applied_height();
  mempool::PendingNonces pending;
  // Ids are known from the links (a child's parent_id, a commit's certificate), so no block is
  // hashed again here.
  const auto count = [&](const types::Block& b, const Hash32& id) {
    if (b.height <= executed) return;
    if (const auto* cmds = commands_of(b)) {
      if (in_flight != nullptr) {
        for (const auto& c : *cmds) in_flight->insert(command_id(c));
      }
    } else if (const auto* txs = transactions_of(b); txs && !txs->empty()) {
      for (const auto& tx : block_txs(b, id)) {
        auto [it, fresh] = pending.try_emplace(tx->sender, 0);
        if (fresh) it->second = ctx_.ledger->next_nonce(tx->sender);
        it->second = std::max(it->second, tx->tx.nonce + 1);
      }
    }
  };
  int depth = 0;
  Hash32 id = parent_id;
  for (const types::Block* b = tree.find(id); b != nullptr; id = b->parent_id, b = tree.find(id)) {
    // A payload in the parent or grandparent is still in the commit pipeline: do not wait.
    if (depth++ < 2 && has_payload(*b) && recent_payload != nullptr) *recent_payload = true;
    if (b->height <= executed && depth >= 2) break;
    count(*b, id);
  }
  // Blocks this very input committed are not executed yet, and the tree keeps only the newest
  // of them (its root): when one certificate commits several (a lagging node catching up), the
  // older ones are found among the replica's pending effects.
  for (const auto& effect : replica_->pending_effects()) {
    if (const auto* c = std::get_if<consensus::Commit>(&effect)) {
      count(c->block, c->certificate.block_id);  // a commit's certificate is for its block
    }
  }
  // So are commits held until this input's messages have left (see handle).
  for (const auto& c : held_commits_) count(c.block, c.certificate.block_id);
  return pending;
}

types::Payload Core::next_payload(types::Round round, types::Height /*height*/,
                                  const Hash32& parent_id) {
  // What the ancestors not yet executed here carry must not be proposed again. That includes
  // blocks the replica committed within this very input: their Commit effects are applied only
  // after it returns, so the ledger and mempool do not reflect them yet.
  CommandIdSet in_flight;
  bool recent_payload = false;
  const mempool::PendingNonces pending = ancestor_nonces(parent_id, &recent_payload, &in_flight);

  // Under load, fewer and fuller blocks: unless the pool could fill one now, wait out the
  // minimum interval since the last proposal (transactions keep arriving meanwhile).
  if (config_.min_block_interval.count() > 0 && !stopping_) {
    const auto not_before = last_proposal_ + config_.min_block_interval;
    const std::size_t pooled = config_.commands ? ctx_.commands->size() : ctx_.mempool->size();
    if (Clock::now() < not_before && pooled < config_.batch.max_txs) {
      std::this_thread::sleep_until(not_before);  // bounded: at most the interval
    }
  }
  last_proposal_ = Clock::now();

  const auto deadline = Clock::now() + config_.empty_block_wait;
  for (;;) {
    const std::uint64_t seen = ctx_.payload_ready != nullptr ? ctx_.payload_ready->generation() : 0;
    types::Payload payload;
    bool empty = true;
    if (config_.commands) {
      auto cmds = ctx_.commands->take(config_.batch.max_txs, config_.batch.max_bytes, in_flight);
      empty = cmds.empty();
      payload = std::move(cmds);
    } else {
      auto batch = ctx_.mempool->build_batch(config_.batch, pending);
      empty = batch.empty();
      std::vector<types::Transaction> txs;
      txs.reserve(batch.size());
      for (const auto& t : batch) txs.push_back(t->tx);
      own_payload_.emplace(round, std::move(batch));
      payload = std::move(txs);
    }
    if (!empty || recent_payload || stopping_ || ctx_.payload_ready == nullptr ||
        Clock::now() >= deadline) {
      return payload;
    }
    ctx_.payload_ready->wait_until(seen, deadline);
  }
}

// The wall clock after next_payload's waits (the minimum interval, an empty pool), never
// before the input's time.
std::uint64_t Core::proposal_time_ms(std::uint64_t input_ms) {
  return std::max(input_ms, unix_ms());
}

consensus::PayloadSource::ExecAnchor Core::exec_anchor(const types::Block& parent,
                                                       types::Height committed) {
  ExecAnchor anchor{parent.exec_height, {}};
  const types::Height last = std::min(ctx_.ledger->applied_height(), committed);
  while (anchor.height < last && anchor.roots.size() < types::Block::kMaxExecRoots) {
    auto rec = ctx_.ledger->executed_at(anchor.height + 1);
    if (!rec) break;  // older than the kept history (just after a state-sync install)
    anchor.roots.push_back(types::exec_commitment(rec->block_id, rec->state_root));
    ++anchor.height;
  }
  return anchor;
}

// Core::handle executes what a proposal's certificate commits before the proposal reaches the
// replica, so the ledger is current when the replica asks. Two checks it cannot make itself:
//  - anchored execution entries: a node behind the anchored heights cannot check them and does
//    not vote (the others can); one that disagrees has diverged or faces a lying proposer;
//  - no replays: every transaction's nonce is at least its sender's next nonce after the
//    committed state and the block's uncommitted ancestors, so a transaction committed (or
//    pending in an ancestor) is never certified a second time.
bool Core::votable(const types::Block& proposal, const Hash32& id) {
  const types::Block* block = &proposal;
  if (const auto* txs = transactions_of(*block); txs != nullptr && !txs->empty()) {
    mempool::PendingNonces next = ancestor_nonces(block->parent_id);
    for (const auto& tx : block_txs(*block, id)) {
      auto [it, fresh] = next.try_emplace(tx->sender, 0);
      if (fresh) it->second = ctx_.ledger->next_nonce(tx->sender);
      if (tx->tx.nonce < it->second) {
        spdlog::warn(
            "core: round {} block from validator {} includes transaction {} again (nonce {} below "
            "the sender's next {}); not voting",
            block->round, block->proposer, to_hex(tx->hash), tx->tx.nonce, it->second);
        ctx_.metrics->replayed_proposals.fetch_add(1);
        return false;
      }
      it->second = tx->tx.nonce + 1;
    }
  }
  auto agree = execution::verify_anchors(*ctx_.ledger, *block);
  if (agree) return true;
  if (agree.error().code == Errc::verify) {
    ctx_.metrics->state_root_mismatches.fetch_add(1);
    spdlog::error(
        "core: round {} from validator {}: {}; not voting (diverged state or a faulty "
        "proposer)",
        block->round, block->proposer, agree.error().message);
  } else {
    spdlog::debug("core: round {}: {}; not voting", block->round, agree.error().message);
  }
  return false;
}

void Core::fatal(const Error& e) {
  if (failed_) return;
  failed_ = true;
  spdlog::critical("core: {}; stopping (a restart resumes from the last stored state)",
                   e.to_string());
  if (ctx_.on_fatal) ctx_.on_fatal(e);
}

void Core::publish_status() {
  // What the replica refused since the last input, added to the node's counters: each counter
  // grows by what the replica's count grew since it was last published.
  Metrics& m = *ctx_.metrics;
  const auto advance = [](std::atomic<std::uint64_t>& counter, std::size_t now,
                          std::size_t& published) {
    if (now != published) counter.fetch_add(now - published);
    published = now;
  };
  advance(m.consensus_invalid_total, replica_->stats().invalid, published_invalid_);
  advance(m.proposal_equivocations_total, replica_->stats().equivocations,
          published_equivocations_);
  const auto votes = replica_->vote_drops().by_reason();
  const auto timeouts = replica_->timeout_drops().by_reason();
  for (std::size_t i = 0; i < votes.size(); ++i) {
    advance(m.vote_drops[i], votes[i], published_votes_[i]);
    advance(m.timeout_drops[i], timeouts[i], published_timeouts_[i]);
  }

  const types::Round round = replica_->current_round();
  std::lock_guard lock(status_mu_);
  status_.round = round;
  status_.leader = leaders_->leader(round);
  status_.syncing = !replica_->tree().contains(replica_->high_qc().block_id);
}

}  // namespace ol::node
