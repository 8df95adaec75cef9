// Replica: one validator's two-chain HotStuff, as a deterministic state machine.
//
// Inputs are method calls (a message from a peer, a timer firing, a block executed); each
// returns the effects to apply, in order. No sockets, clocks, threads or databases inside: the
// node wires effects to the network and RocksDB, the simulator to its virtual network. The same
// inputs in the same order give the same effects.
//
//   proposal ─► validate ─► certificates (QC/TC) ─► insert in BlockTree ─► SafetyRules::vote ─►
//   vote to every validator ─► VoteAggregator ─► QC ─► commit rule, Pacemaker enters next round
//   ─► the next leader proposes on its highest QC (or the TC).   Timer ─► SafetyRules::timeout ─►
//   broadcast ─► TimeoutAggregator ─► TC ─► Pacemaker enters next round.
//
// Votes go to every validator, not only to the next leader: each one forms the certificate
// itself, so a block commits at every validator one message delay (and the next leader's
// proposal-building) sooner than when the next proposal brings the certificate. That proposal's
// certificate is then checked only for the signatures this replica has not already checked.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include "consensus/aggregator.h"
#include "consensus/block_tree.h"
#include "consensus/effects.h"
#include "consensus/leader_election.h"
#include "consensus/pacemaker.h"
#include "consensus/payload_source.h"
#include "consensus/safety_rules.h"
#include "crypto/hash.h"

namespace ol::consensus {

struct ReplicaConfig {
  PacemakerConfig pacemaker;
  /// Votes and timeouts are accepted for rounds [current, current + window].
  Round round_window = 16;
  /// A block stamped further than this ahead of the local clock is not voted for.
  std::uint64_t max_clock_drift_ms = 10'000;
};

/// Where a replica starts: genesis on first boot; after a restart, the last committed block with
/// a QC for it, and what SafetyStorage last saved. The replica resumes in the round after
/// max(high_qc.round, last_tc.round): its last vote or timeout may lie in that round, and
/// without these certificates it could neither vote nor time out there (a restart of every
/// replica at once would never advance). The high QC's block, if above the root, is fetched
/// from peers.
struct RecoveryState {
  Block root = Block::genesis();
  QuorumCert root_qc = QuorumCert::genesis(Block::genesis().compute_id());
  SafetyData safety;
  std::optional<QuorumCert> high_qc;
  std::optional<types::TimeoutCert> last_tc;
};

/// Dropped inputs by reason (plus the aggregators' own counts).
struct ReplicaStats {
  std::size_t invalid = 0;        // failed validation (signature, shape, membership, linkage)
  std::size_t stale = 0;          // for a round already left
  std::size_t equivocations = 0;  // a second, different proposal from a leader in one round
  std::size_t unsolicited = 0;    // sync responses nobody asked for
  std::size_t sync_requests = 0;
};

class Replica {
 public:
  /// A block asked for is not asked for again (of anyone) sooner than this.
  static constexpr std::uint64_t kSyncRequestRetryMs = 300;
  /// Fetched blocks kept while the history below them is fetched (see handle(SyncResponse)):
  /// beyond either bound the kept blocks are dropped (and fetched again if still needed).
  static constexpr std::size_t kMaxFetchedBlocks = 4096;
  static constexpr std::size_t kMaxFetchedBytes = std::size_t{64} << 20;

  /// `set`, `storage`, `leaders`, `payloads` and `committed` (may be null) must outlive the
  /// replica. `key` is validator `self`'s key in `set`.
  Replica(const crypto::ValidatorSet& set, ValidatorIndex self, crypto::Ed25519KeyPair key,
          ReplicaConfig config, RecoveryState recovery, SafetyStorage& storage,
          const LeaderElection& leaders, PayloadSource& payloads, const CommittedBlocks* committed);

  /// Arms the first round's timer, and proposes if this replica leads it.
  Effects start(std::uint64_t now_ms);
  /// A message from validator `from` (authenticated by the transport). Invalid input is dropped
  /// and counted; it never changes safety state.
  Effects on_message(std::uint64_t now_ms, ValidatorIndex from, const Message& message);
  /// The timer armed by SetTimer{round} fired.
  Effects on_timer(std::uint64_t now_ms, Round round);
  /// True when an input returned before this replica handled its own messages: a proposal
  /// whose round was durable before it was signed leaves first, and the replica's own handling
  /// of it (its vote, with its synced write) follows in on_own_input(). Apply the effects
  /// returned, then call on_own_input() at once.
  bool has_own_input() const { return !self_inbox_.empty(); }
  Effects on_own_input(std::uint64_t now_ms);

  Round current_round() const { return pacemaker_.current_round(); }
  const QuorumCert& high_qc() const { return high_qc_; }
  /// The effects of the input being handled, so far (for a PayloadSource called during it:
  /// blocks committed in this input are not yet executed, and the tree keeps only the newest).
  const Effects& pending_effects() const { return out_; }
  const BlockTree& tree() const { return tree_; }
  const SafetyData& safety_data() const { return safety_.data(); }
  const ReplicaStats& stats() const { return stats_; }
  const DropCounts& vote_drops() const { return votes_.drops(); }
  const DropCounts& timeout_drops() const { return timeouts_.drops(); }
  /// Fetched blocks waiting for their history (see handle(SyncResponse)).
  std::size_t fetched_blocks() const { return fetched_.size(); }

 private:
  template <typename F>
  Effects run(std::uint64_t now_ms, F&& handle);
  void dispatch(ValidatorIndex from, const Message& message);

  void handle(ValidatorIndex from, const ProposalMsg& m);
  void handle(ValidatorIndex from, const Vote& m);
  void handle(ValidatorIndex from, const TimeoutMsg& m);
  void handle(ValidatorIndex from, const SyncInfo& m);
  void handle(ValidatorIndex from, const SyncRequest& m);
  void handle(ValidatorIndex from, const SyncResponse& m);

  bool verify_qc(const QuorumCert& qc);
  bool verify_tc(const TimeoutCert& tc);
  void process_qc(ValidatorIndex from, const QuorumCert& qc, bool fetch_missing = true);
  void process_tc(const TimeoutCert& tc);
  void try_vote(const Block& block, const Hash32& id, const TimeoutCert* tc);
  void enter_new_round_if_advanced();
  void maybe_propose();
  /// The highest height that the certificates on a proposal's chain commit by the two-chain
  /// rule: `parent` and its ancestors, each certified by its child's justify (the proposal's, for
  /// `parent`). See maybe_propose. 0 when the walk finds none (nothing new is anchored then).
  types::Height committed_by_chain(const Block& parent) const;
  static constexpr int kCommitWalkLimit = 64;
  bool persist_certificates();
  void request_blocks(ValidatorIndex from, const Hash32& id);
  /// Keeps a fetched block whose parent is not in the tree (bounded; see kMaxFetchedBlocks).
  void keep_fetched(const Block& block, const Hash32& id);
  /// Inserts `block` (parent in the tree, or itself in it) and every kept block that descends
  /// from it. Returns how many went in, nothing if the tree refused one (invalid input).
  std::optional<std::size_t> insert_fetched(ValidatorIndex from, const Block& block,
                                            const Hash32& id);
  void retry_waiting_proposal();
  const TimeoutCert* tc_opening_current_round() const;
  void send(ValidatorIndex to, Message m);
  void broadcast(Message m);

  const crypto::ValidatorSet& set_;
  ValidatorIndex self_;
  ReplicaConfig config_;
  Hash32 genesis_id_;
  const LeaderElection& leaders_;
  PayloadSource& payloads_;
  const CommittedBlocks* committed_;
  SafetyStorage& storage_;

  SafetyRules safety_;
  BlockTree tree_;
  Pacemaker pacemaker_;
  VoteAggregator votes_;
  TimeoutAggregator timeouts_;

  QuorumCert high_qc_;  // highest verified QC, its block known or not
  std::map<std::pair<Round, Hash32>, QuorumCert> verified_qcs_;
  std::map<Round, Hash32> proposals_seen_;  // first valid proposal per round
  std::optional<std::pair<ValidatorIndex, ProposalMsg>> waiting_proposal_;  // parent being synced
  std::map<Hash32, std::uint64_t> requested_;  // outstanding syncs: block id -> when asked (ms)
  // Fetched blocks above the root whose parent is not in the tree yet, by id and by parent id.
  struct Fetched {
    Block block;
    std::size_t bytes = 0;
  };
  std::unordered_map<Hash32, Fetched, crypto::Hash32Hasher> fetched_;
  std::unordered_multimap<Hash32, Hash32, crypto::Hash32Hasher> fetched_children_;
  std::size_t fetched_bytes_ = 0;
  std::map<ValidatorIndex, Round> helped_;  // last round a lagging peer was sent SyncInfo
  Round timer_round_ = 0;
  Round proposed_round_ = 0;
  // True while run() hands this replica its own messages (self_inbox_): their signatures were
  // just made by its own SafetyRules and are not checked again; everything else is.
  bool own_input_ = false;
  bool proposed_this_input_ = false;  // at most one own proposal per input (see maybe_propose)
  bool defer_own_input_ = false;      // this input's own messages wait for on_own_input()
  Round deferred_proposal_round_ = 0;
  Round saved_qc_round_ = 0;  // certificates durable through SafetyStorage::save_certificates
  Round saved_tc_round_ = 0;
  ReplicaStats stats_;

  std::uint64_t now_ms_ = 0;
  Effects out_;
  std::deque<Message> self_inbox_;
};

}  // namespace ol::consensus
