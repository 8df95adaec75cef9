#include "consensus/replica.h"

#include <algorithm>

namespace ol::consensus {

namespace {

QuorumCert higher_qc(const RecoveryState& r) {
  return r.high_qc && r.high_qc->round > r.root_qc.round ? *r.high_qc : r.root_qc;
}

}  // namespace

Replica::Replica(const crypto::ValidatorSet& set, ValidatorIndex self, crypto::Ed25519KeyPair key,
                 ReplicaConfig config, RecoveryState recovery, SafetyStorage& storage,
                 const LeaderElection& leaders, PayloadSource& payloads,
                 const CommittedBlocks* committed)
    : set_(set),
      self_(self),
      config_(config),
      genesis_id_(Block::genesis().compute_id()),
      leaders_(leaders),
      payloads_(payloads),
      committed_(committed),
      storage_(storage),
      safety_(std::move(key), self, storage, recovery.safety),
      tree_(recovery.root, recovery.root_qc),
      pacemaker_(config.pacemaker, higher_qc(recovery).round + 1),
      votes_(set),
      timeouts_(set),
      high_qc_(higher_qc(recovery)) {
  // Both came from our own storage: durable already, and trusted like the root.
  if (recovery.last_tc) pacemaker_.advance_on_tc(*recovery.last_tc);
  saved_qc_round_ = high_qc_.round;
  saved_tc_round_ = recovery.last_tc ? recovery.last_tc->round : 0;
}

template <typename F>
Effects Replica::run(std::uint64_t now_ms, F&& handle) {
  now_ms_ = now_ms;
  out_.clear();
  proposed_this_input_ = false;
  defer_own_input_ = false;
  handle();

  // Messages to ourselves (our vote when we lead the next round, our own proposal and timeout)
  // go through the same validation as anyone else's, after the input that produced them,
  // except for the signatures our own SafetyRules just made (own_input_). The loop ends: at
  // most one own proposal per input, so a self-certifying replica (n = 1) cannot feed it
  // forever.
  //
  // A proposal whose round was durable before it was signed leaves with this input's effects,
  // before this replica handles it (on_own_input): its vote's synced write is then not on the
  // proposal's way to the others.
  while (!defer_own_input_ && !self_inbox_.empty()) {
    Message m = std::move(self_inbox_.front());
    self_inbox_.pop_front();
    own_input_ = true;
    dispatch(self_, m);
    own_input_ = false;
  }
  // On failure nothing was signed on them (try_vote and on_timer check first); retried later.
  (void)persist_certificates();
  // A proposal signed in this input leaves only once its round is synced (usually our own vote
  // for it has done that). If the sync fails, nothing leaves: the round times out.
  if (!safety_.sync_pending().ok()) {
    std::erase_if(out_, [](const Effect& e) {
      return std::holds_alternative<Broadcast>(e) || std::holds_alternative<SendTo>(e);
    });
  }
  return std::move(out_);
}

Effects Replica::start(std::uint64_t now_ms) {
  return run(now_ms, [&] {
    // After a restart the high QC's block may be above the root: only peers still have it.
    if (!tree_.contains(high_qc_.block_id)) request_blocks(self_, high_qc_.block_id);
    enter_new_round_if_advanced();
  });
}

Effects Replica::on_own_input(std::uint64_t now_ms) {
  return run(now_ms, [] {});
}

Effects Replica::on_message(std::uint64_t now_ms, ValidatorIndex from, const Message& message) {
  return run(now_ms, [&] {
    if (from >= set_.size()) return void(++stats_.invalid);
    dispatch(from, message);
  });
}

Effects Replica::on_timer(std::uint64_t now_ms, Round round) {
  return run(now_ms, [&] {
    if (round != current_round()) return;  // a timer from a round already left
    if (deferred_proposal_round_ == round) {
      // The zero-length timer maybe_propose armed: propose now, then wait a full round.
      deferred_proposal_round_ = 0;
      maybe_propose();
      out_.push_back(SetTimer{round, pacemaker_.round_timeout_ms()});
      return;
    }
    if (!tree_.contains(high_qc_.block_id)) request_blocks(self_, high_qc_.block_id);
    if (!persist_certificates()) return;
    const TimeoutCert* tc = tc_opening_current_round();
    auto timeout = safety_.timeout(round, high_qc_, tc, leaders_.leader(round + 1) == self_);
    if (timeout.ok()) broadcast(TimeoutMsg{std::move(*timeout), pacemaker_.last_tc()});
    // Re-arm: until the round ends, the timeout is re-sent each period (messages may be lost).
    out_.push_back(SetTimer{round, pacemaker_.round_timeout_ms()});
  });
}

void Replica::dispatch(ValidatorIndex from, const Message& message) {
  std::visit([&](const auto& m) { handle(from, m); }, message);
  enter_new_round_if_advanced();
}

// ---- certificates ----------------------------------------------------------------------------

bool Replica::verify_qc(const QuorumCert& qc) {
  auto key = std::make_pair(qc.round, qc.block_id);
  auto it = verified_qcs_.find(key);
  if (it != verified_qcs_.end()) {
    if (it->second == qc) return true;
    // Usually the next leader's certificate for a block this replica certified from the
    // broadcast votes itself: only the signatures it has not checked yet are checked.
    if (!qc.verify(set_, genesis_id_, it->second).ok()) return false;
    it->second = qc;
    return true;
  }
  if (!qc.verify(set_, genesis_id_).ok()) return false;
  verified_qcs_.emplace(key, qc);
  return true;
}

bool Replica::verify_tc(const TimeoutCert& tc) {
  if (pacemaker_.last_tc() && *pacemaker_.last_tc() == tc) return true;
  return tc.verify(set_, genesis_id_).ok();
}

void Replica::process_qc(ValidatorIndex from, const QuorumCert& qc, bool fetch_missing) {
  if (qc.round > high_qc_.round) high_qc_ = qc;
  pacemaker_.advance_on_qc(qc.round);
  if (!tree_.contains(qc.block_id)) {
    if (fetch_missing && qc.round > tree_.root().round) request_blocks(from, qc.block_id);
    return;
  }
  tree_.record_qc(qc);
  auto candidate = tree_.commit_candidate(qc);
  if (!candidate) return;
  const QuorumCert& certifies_candidate = tree_.find(qc.block_id)->justify;
  for (auto& c : tree_.commit(*candidate, certifies_candidate)) {
    out_.push_back(Commit{std::move(c.block), std::move(c.certificate)});
  }
  const Round root_round = tree_.root().round;
  verified_qcs_.erase(verified_qcs_.begin(), verified_qcs_.lower_bound({root_round, Hash32{}}));
}

void Replica::process_tc(const TimeoutCert& tc) {
  pacemaker_.advance_on_tc(tc);
}

const TimeoutCert* Replica::tc_opening_current_round() const {
  const auto& tc = pacemaker_.last_tc();
  return tc && tc->round + 1 == current_round() ? &*tc : nullptr;
}

void Replica::enter_new_round_if_advanced() {
  const Round round = current_round();
  if (round != timer_round_) {
    timer_round_ = round;
    out_.push_back(SetTimer{round, pacemaker_.round_timeout_ms()});
    votes_.prune_below(round);
    timeouts_.prune_below(round);
    proposals_seen_.erase(proposals_seen_.begin(), proposals_seen_.lower_bound(round));
  }
  maybe_propose();
}

// ---- proposing and voting --------------------------------------------------------------------

void Replica::maybe_propose() {
  const Round round = current_round();
  if (leaders_.leader(round) != self_ || proposed_round_ >= round) return;
  const QuorumCert& hqc = tree_.highest_qc();
  const TimeoutCert* tc = tc_opening_current_round();
  // Propose only what an honest replica could vote for; otherwise wait for sync or a TC.
  if (!rules::safe_to_vote(round, hqc.round, tc)) return;
  const Block* parent = tree_.find(hqc.block_id);
  if (parent == nullptr) return;
  if (proposed_this_input_) {
    // A second proposal in one input: only a replica that certifies its own proposals (n = 1)
    // gets here. Propose on the next input instead: a zero-length timer for this round.
    if (deferred_proposal_round_ != round) {
      deferred_proposal_round_ = round;
      out_.push_back(SetTimer{round, 0});
    }
    return;
  }
  proposed_this_input_ = true;

  Block b;
  b.round = round;
  b.height = parent->height + 1;
  b.parent_id = hqc.block_id;
  b.justify = hqc;
  b.proposer = self_;
  auto anchor = payloads_.exec_anchor(*parent, committed_by_chain(*parent));
  b.exec_height = anchor.height;
  b.exec_roots = std::move(anchor.roots);
  b.payload = payloads_.next_payload(round, b.height, b.parent_id);
  // Stamped once its payload is in: a source may have waited for transactions.
  b.timestamp_ms = std::max(payloads_.proposal_time_ms(now_ms_), parent->timestamp_ms);
  const Hash32 id = b.compute_id();
  proposed_round_ = round;
  auto signature = safety_.sign_proposal(round, id);
  if (!signature) return;  // proposed before a restart, or storage failed: the round times out
  ProposalMsg p{std::move(b), tc ? std::optional<TimeoutCert>(*tc) : std::nullopt, *signature};
  broadcast(std::move(p));
  // Its round was reserved (durable already): the proposal need not wait for our own vote's
  // synced write, so run() returns before handling it (on_own_input). Not from within our own
  // input: a self-certifying replica (n = 1) keeps its one proposal per input.
  if (!own_input_ && safety_.synced()) defer_own_input_ = true;
}

// Anchors only what the proposal's own chain commits. A voter executes, before voting, what the
// certificates on that chain commit (it processed each of them to get the chain), so it can
// check those anchors. A height this replica committed through a certificate off the chain may
// be unknown to the others: a certificate formed from broadcast votes at some validators only,
// just before a timeout, and the next proposals built on the round before it. Anchoring such a
// height would let only the validators that saw that certificate vote; if they are not a quorum
// without the others, no proposal of theirs is certified, the chain never gets the two
// consecutive certified rounds that would commit the height for everyone, and the network stops
// (seen in a chaos run: two validators one height ahead of the other two, for good).
types::Height Replica::committed_by_chain(const Block& parent) const {
  const Block* x = &parent;
  std::optional<Block> below_root;  // an ancestor read from the store
  for (int step = 0; step < kCommitWalkLimit; ++step) {
    if (x->round == 0) return 0;  // genesis
    // x's certificate (its child's justify) commits x's parent when x follows its own
    // certificate's round directly.
    if (x->round == x->justify.round + 1) return x->height - 1;
    const Hash32 up = x->parent_id;
    if (const Block* in_tree = tree_.find(up)) {
      x = in_tree;
      continue;
    }
    if (committed_ == nullptr) return 0;
    auto loaded = committed_->find(up);
    if (!loaded) return 0;
    below_root = std::move(loaded);
    x = &*below_root;
  }
  return 0;
}

// Certificates are durable before anything is signed in the round they open: a replica restarted
// with only its SafetyData would sit below its last voted round, unable to vote or time out.
bool Replica::persist_certificates() {
  const auto& tc = pacemaker_.last_tc();
  const Round tc_round = tc ? tc->round : 0;
  if (high_qc_.round <= saved_qc_round_ && tc_round <= saved_tc_round_) return true;
  if (!storage_.save_certificates(high_qc_, tc).ok()) return false;
  saved_qc_round_ = high_qc_.round;
  saved_tc_round_ = tc_round;
  return true;
}

void Replica::handle(ValidatorIndex from, const ProposalMsg& m) {
  const Block& b = m.block;
  if (b.round == 0 || b.proposer >= set_.size() || b.proposer != leaders_.leader(b.round) ||
      !b.validate_shape().ok()) {
    return void(++stats_.invalid);
  }
  const Hash32 id = b.compute_id();
  const bool signature_ok =
      own_input_ ||
      crypto::ed25519_verify(set_.key(b.proposer), types::proposal_digest(id), m.signature);
  if (!signature_ok || !verify_qc(b.justify)) {
    return void(++stats_.invalid);
  }
  const TimeoutCert* tc = nullptr;
  if (m.tc) {
    if (m.tc->round + 1 != b.round || !verify_tc(*m.tc)) return void(++stats_.invalid);
    tc = &*m.tc;
  }
  process_qc(from, b.justify);
  if (tc) process_tc(*tc);
  if (b.round < current_round()) {
    // Votes reach every validator, so this replica may have certified the block from them
    // before its proposal arrived: too late to vote, but the block is needed (it may commit).
    auto cert = verified_qcs_.find({b.round, id});
    if (cert == verified_qcs_.end() || tree_.contains(id) || !tree_.contains(b.parent_id) ||
        !tree_.insert(b, id).ok()) {
      return void(++stats_.stale);
    }
    out_.push_back(PersistBlock{b, id});
    process_qc(from, QuorumCert(cert->second));
    return;
  }

  auto [seen, first] = proposals_seen_.emplace(b.round, id);
  if (!first && seen->second != id) return void(++stats_.equivocations);
  if (!tree_.contains(b.parent_id)) {
    waiting_proposal_.emplace(from, m);
    request_blocks(from, b.parent_id);
    return;
  }
  if (Status s = tree_.insert(b, id); !s) return void(++stats_.invalid);
  out_.push_back(PersistBlock{b, id});
  try_vote(b, id, tc);
}

void Replica::try_vote(const Block& block, const Hash32& id, const TimeoutCert* tc) {
  if (block.round != current_round()) return;
  const Block* parent = tree_.find(block.parent_id);
  if (parent == nullptr || block.timestamp_ms < parent->timestamp_ms ||
      block.timestamp_ms > now_ms_ + config_.max_clock_drift_ms) {
    return;
  }
  // Anchored heights continue the parent's, each once (the roots themselves are the node's to
  // check: it refuses to send a vote whose block anchors a root it disagrees with).
  if (block.exec_height != parent->exec_height + block.exec_roots.size()) return;
  if (!payloads_.votable(block, id)) return;
  if (!persist_certificates()) return;
  // Leading the next round: reserve it in this vote's synced write (see SafetyRules::vote).
  auto vote = safety_.vote(block, id, tc, leaders_.leader(block.round + 1) == self_);
  if (!vote.ok()) return;
  broadcast(std::move(*vote));
}

void Replica::handle(ValidatorIndex from, const Vote& m) {
  // A vote comes from its voter (on the voter's own authenticated channel), never relayed: a
  // validator cannot make others check signatures in another's name, or replay others' votes.
  if (from != m.voter) return void(++stats_.invalid);
  auto qc = votes_.add(m, {current_round(), current_round() + config_.round_window}, own_input_);
  if (!qc) return;
  verified_qcs_.insert_or_assign({qc->round, qc->block_id}, *qc);
  // The next leader needs the block to propose on it and fetches it at once. Anyone else most
  // likely has its proposal still on the way (votes are small and overtake it), and fetches it
  // only when a later proposal or certificate names it.
  process_qc(from, *qc, leaders_.leader(qc->round + 1) == self_);
}

// ---- timeouts ----------------------------------------------------------------------------

void Replica::handle(ValidatorIndex from, const TimeoutMsg& m) {
  const Timeout& t = m.timeout;
  // Like a vote, a timeout comes from its author and is never relayed (see VoteAggregator).
  if (from != t.author || t.high_qc.round >= t.round || !verify_qc(t.high_qc) ||
      (m.last_tc && !verify_tc(*m.last_tc))) {
    return void(++stats_.invalid);
  }
  process_qc(from, t.high_qc);
  if (m.last_tc) process_tc(*m.last_tc);
  if (t.round < current_round() && from != self_) {
    // The sender is behind: hand it our certificates once per round.
    auto& last = helped_[from];
    if (last < current_round()) {
      last = current_round();
      send(from, SyncInfo{high_qc_, pacemaker_.last_tc()});
    }
  }
  auto tc = timeouts_.add(t, {current_round(), current_round() + config_.round_window});
  if (tc) process_tc(*tc);
}

void Replica::handle(ValidatorIndex from, const SyncInfo& m) {
  if (!verify_qc(m.high_qc) || (m.last_tc && !verify_tc(*m.last_tc))) {
    return void(++stats_.invalid);
  }
  process_qc(from, m.high_qc);
  if (m.last_tc) process_tc(*m.last_tc);
}

// ---- block sync --------------------------------------------------------------------------

void Replica::request_blocks(ValidatorIndex from, const Hash32& id) {
  if (from == self_) from = leaders_.leader(current_round());  // ask someone else
  if (from == self_) from = (self_ + 1) % static_cast<ValidatorIndex>(set_.size());
  // Each vote or certificate naming a block we lack would ask again; once per interval is enough
  // (a lost request or a silent peer is retried after it).
  if (auto it = requested_.find(id);
      it != requested_.end() && now_ms_ < it->second + kSyncRequestRetryMs) {
    return;
  }
  if (requested_.size() >= 64) requested_.clear();  // bound; lost requests are simply re-made
  requested_[id] = now_ms_;
  ++stats_.sync_requests;
  out_.push_back(RequestBlocks{from, SyncRequest{id, tree_.root().height}});
}

void Replica::handle(ValidatorIndex from, const SyncRequest& m) {
  std::vector<Block> blocks;
  Hash32 cur = m.block_id;
  while (blocks.size() < kMaxSyncBlocks) {
    std::optional<Block> b;
    if (const Block* in_tree = tree_.find(cur)) {
      b = *in_tree;
    } else if (committed_ != nullptr) {
      b = committed_->find(cur);
    }
    if (!b || b->height <= m.above_height || b->round == 0) break;
    cur = b->parent_id;
    blocks.push_back(std::move(*b));
  }
  if (!blocks.empty()) send(from, SyncResponse{std::move(blocks)});
}

void Replica::handle(ValidatorIndex from, const SyncResponse& m) {
  if (m.blocks.empty()) return void(++stats_.invalid);
  // Authenticity by hash chain: the newest block must be one we asked for (its id came from a
  // verified QC, a validated proposal's parent or a kept block's parent), and each next block
  // must be its parent. The chain's QCs were verified by the honest voters that certified its
  // newest block, so they are trusted here without re-checking signatures.
  std::vector<Hash32> ids;
  ids.reserve(m.blocks.size());
  for (const auto& b : m.blocks) ids.push_back(b.compute_id());
  if (requested_.count(ids[0]) == 0) return void(++stats_.unsolicited);
  for (std::size_t i = 0; i + 1 < m.blocks.size(); ++i) {
    if (m.blocks[i].parent_id != ids[i + 1]) return void(++stats_.invalid);
  }
  // A chain deeper than one response is fetched by walking down from its newest block, one
  // response at a time, each asking for the parent of the oldest block so far. The blocks above
  // are kept (fetched_) until the walk reaches the tree; then the whole chain goes in, oldest
  // first. (Before they were kept, each walk inserted only its last response and started again
  // from the top: fetching a chain of a thousand blocks after a stall took 20-40 s.)
  bool inserted = false;
  for (std::size_t i = m.blocks.size(); i-- > 0;) {
    const Block& b = m.blocks[i];
    if (tree_.contains(ids[i])) {
      // It may have arrived otherwise (a proposal) while blocks above it were kept.
      if (fetched_children_.count(ids[i]) == 0) continue;
      const auto n = insert_fetched(from, b, ids[i]);
      if (!n) return void(++stats_.invalid);
      inserted = inserted || *n > 0;
      continue;
    }
    if (b.height <= tree_.root().height) continue;
    if (!b.validate_shape().ok()) return void(++stats_.invalid);
    if (tree_.contains(b.parent_id)) {
      if (!insert_fetched(from, b, ids[i])) return void(++stats_.invalid);
      inserted = true;
    } else {
      keep_fetched(b, ids[i]);
    }
  }
  if (!tree_.contains(ids.back())) {
    // More history is needed: below the oldest block of the chain kept so far, unless that
    // block is already next to the root (then it is on a fork the commit has left behind).
    const Block* bottom = &m.blocks.back();
    for (auto it = fetched_.find(bottom->parent_id); it != fetched_.end();
         it = fetched_.find(bottom->parent_id)) {
      bottom = &it->second.block;
    }
    if (bottom->height > tree_.root().height + 1) request_blocks(from, bottom->parent_id);
  }
  // A response that reached the tree starts the next walk from the top at once, if one is still
  // needed; one that did not leaves the top's request recorded until the retry interval (four
  // validators each re-asking for the top at once used to flood each other after a stall).
  if (inserted) requested_.erase(high_qc_.block_id);
  process_qc(from, high_qc_);  // its block may have just arrived
  retry_waiting_proposal();
}

void Replica::keep_fetched(const Block& block, const Hash32& id) {
  if (fetched_.count(id) != 0) return;
  const std::size_t bytes = block.payload_size() + sizeof(Block);
  if (fetched_.size() >= kMaxFetchedBlocks || fetched_bytes_ + bytes > kMaxFetchedBytes) {
    // Bound: start over (what is still needed is fetched again).
    fetched_.clear();
    fetched_children_.clear();
    fetched_bytes_ = 0;
  }
  fetched_.emplace(id, Fetched{block, bytes});
  fetched_children_.emplace(block.parent_id, id);
  fetched_bytes_ += bytes;
}

std::optional<std::size_t> Replica::insert_fetched(ValidatorIndex from, const Block& block,
                                                   const Hash32& id) {
  // Depth first over the kept descendants; each is inserted after its parent.
  std::size_t inserted = 0;
  std::vector<std::pair<Block, Hash32>> todo;
  todo.emplace_back(block, id);
  while (!todo.empty()) {
    auto [b, b_id] = std::move(todo.back());
    todo.pop_back();
    if (!tree_.contains(b_id)) {
      // A commit on the way (a kept block's QC) may have pruned a fork's parent.
      if (b.height <= tree_.root().height || !tree_.contains(b.parent_id)) continue;
      if (!tree_.insert(b, b_id).ok()) return std::nullopt;
      ++inserted;
      out_.push_back(PersistBlock{b, b_id});
      process_qc(from, b.justify);
    }
    auto [first, last] = fetched_children_.equal_range(b_id);
    std::vector<Hash32> children;
    for (auto it = first; it != last; ++it) children.push_back(it->second);
    fetched_children_.erase(first, last);
    for (const Hash32& child : children) {
      auto kept = fetched_.find(child);
      if (kept == fetched_.end()) continue;
      fetched_bytes_ -= kept->second.bytes;
      todo.emplace_back(std::move(kept->second.block), child);
      fetched_.erase(kept);
    }
  }
  return inserted;
}

void Replica::retry_waiting_proposal() {
  if (!waiting_proposal_ || !tree_.contains(waiting_proposal_->second.block.parent_id)) return;
  auto [from, p] = std::move(*waiting_proposal_);
  waiting_proposal_.reset();
  handle(from, p);
}

// ---- output ------------------------------------------------------------------------------

void Replica::send(ValidatorIndex to, Message m) {
  if (to == self_) {
    self_inbox_.push_back(std::move(m));
  } else {
    out_.push_back(SendTo{to, std::move(m)});
  }
}

void Replica::broadcast(Message m) {
  self_inbox_.push_back(m);
  out_.push_back(Broadcast{std::move(m)});
}

}  // namespace ol::consensus
