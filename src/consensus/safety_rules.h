// SafetyRules: the only component that signs votes and timeouts, and the two-chain rules that
// keep an honest validator from ever signing two conflicting things (after Aptos'
// safety_rules_2chain). Its state is persisted through SafetyStorage before any signature is
// returned (a proposal's round durably against a machine crash only once sync_pending() or the
// next vote or timeout returns; the replica sends nothing before that), so a crash and restart
// never signs anything that conflicts with what left before.
#pragma once

#include <optional>

#include "codec/codec.h"
#include "crypto/ed25519.h"
#include "types/block.h"
#include "types/timeout.h"
#include "types/vote.h"

namespace ol::consensus {

using types::Round;

/// Everything SafetyRules must remember across restarts.
struct SafetyData {
  Round last_voted_round = 0;            // highest round voted or timed out in
  Round one_chain_round = 0;             // highest QC round seen in a block this replica voted for
  Round highest_timeout_round = 0;       // highest round this replica signed a timeout for
  std::optional<types::Vote> last_vote;  // re-sent verbatim if asked to vote again in its round
  Round last_proposed_round = 0;         // highest round this replica signed a proposal for

  void encode(codec::Writer& w) const;
  static Result<SafetyData> decode(codec::Reader& r);
  bool operator==(const SafetyData&) const = default;
};

/// Durable home of SafetyData and of the certificates a restart resumes from.
class SafetyStorage {
 public:
  virtual ~SafetyStorage() = default;
  /// Returns only once `data` (and every save_unsynced() before it) would survive a crash of
  /// the process and of the machine.
  virtual Status save(const SafetyData& data) = 0;
  /// Returns once `data` would survive a crash of the process; it survives a machine crash once
  /// the next save() or sync() returns. The caller must not let anything it protects leave the
  /// process before then.
  virtual Status save_unsynced(const SafetyData& data) { return save(data); }
  /// Makes every save_unsynced() so far survive a machine crash.
  virtual Status sync() { return {}; }
  /// The replica's highest QC and latest TC (RecoveryState::high_qc / last_tc). Saved whenever
  /// either advances, and always before anything is signed in the round they open. Returns once
  /// they would survive a process crash; they must survive a machine crash once the next save()
  /// returns (nothing is signed in between, so losing them before that costs nothing but the
  /// round they open).
  virtual Status save_certificates(const types::QuorumCert& high_qc,
                                   const std::optional<types::TimeoutCert>& last_tc) = 0;
};

/// In-memory storage for tests and the simulator (survives a simulated crash by construction).
class MemorySafetyStorage final : public SafetyStorage {
 public:
  Status save(const SafetyData& data) override { return keep(data, writes_); }
  // Kept like save() (a simulated crash is a process crash), but counted apart.
  Status save_unsynced(const SafetyData& data) override { return keep(data, unsynced_writes_); }
  Status sync() override {
    if (fail_next_sync_) {
      fail_next_sync_ = false;
      return make_error(Errc::io, "injected safety storage sync failure");
    }
    ++syncs_;
    return {};
  }
  Status save_certificates(const types::QuorumCert& high_qc,
                           const std::optional<types::TimeoutCert>& last_tc) override {
    high_qc_ = high_qc;
    last_tc_ = last_tc;
    return {};
  }
  const SafetyData& data() const { return data_; }
  const std::optional<types::QuorumCert>& high_qc() const { return high_qc_; }
  const std::optional<types::TimeoutCert>& last_tc() const { return last_tc_; }
  std::size_t writes() const { return writes_; }  // synced saves
  std::size_t unsynced_writes() const { return unsynced_writes_; }
  std::size_t syncs() const { return syncs_; }
  void fail_next_save() { fail_next_ = true; }
  void fail_next_sync() { fail_next_sync_ = true; }

 private:
  Status keep(const SafetyData& data, std::size_t& counter) {
    if (fail_next_) {
      fail_next_ = false;
      return make_error(Errc::io, "injected safety storage failure");
    }
    data_ = data;
    ++counter;
    return {};
  }

  SafetyData data_;
  std::optional<types::QuorumCert> high_qc_;
  std::optional<types::TimeoutCert> last_tc_;
  std::size_t writes_ = 0, unsynced_writes_ = 0, syncs_ = 0;
  bool fail_next_ = false, fail_next_sync_ = false;
};

/// The two-chain rules, each a pure predicate named after what it guarantees.
namespace rules {

/// Vote rule 1: never vote twice in a round, never go back.  round > last_voted_round.
bool is_new_round(Round round, Round last_voted_round);

/// Vote rule 2 (happy path): the block extends the previous round's certified block.
///   block.round == block.qc.round + 1
bool extends_previous_round(Round block_round, Round qc_round);

/// Vote rule 3 (after a timeout): the block directly follows a TC and extends a QC at least as
/// high as any QC its signers held.
///   block.round == tc.round + 1  ∧  block.qc.round ≥ tc.highest_qc_round
bool follows_timeout_with_highest_qc(Round block_round, Round qc_round,
                                     const types::TimeoutCert* tc);

/// safe_to_vote: rule 2 ∨ rule 3.
bool safe_to_vote(Round block_round, Round qc_round, const types::TimeoutCert* tc);

/// Timeout rule 1: never time out in a round before one already voted in.
///   round ≥ last_voted_round
bool is_not_past_round(Round round, Round last_voted_round);

/// Timeout rule 2: the round was entered by a QC or a TC.
///   round == qc.round + 1  ∨  round == tc.round + 1
bool is_next_round_of_qc_or_tc(Round round, Round qc_round, const types::TimeoutCert* tc);

/// Timeout rule 3: the carried QC is at least the one-chain round (the highest QC already acted
/// on), so a timeout never hides a QC its signer voted on top of.
///   qc.round ≥ one_chain_round
bool carries_one_chain_qc(Round qc_round, Round one_chain_round);

/// safe_to_timeout: rule 2 ∧ rule 3.
bool safe_to_timeout(Round round, Round qc_round, const types::TimeoutCert* tc,
                     Round one_chain_round);

}  // namespace rules

class SafetyRules {
 public:
  /// `data` is what storage last saved (default-constructed on first start).
  SafetyRules(crypto::Ed25519KeyPair key, types::ValidatorIndex self, SafetyStorage& storage,
              SafetyData data);

  /// Signs a vote for `block` (whose id is `block_id`); `tc` is the TC for block.round - 1 if
  /// the proposal carried one. Re-asked for the block it already voted for in that round, it
  /// returns the same vote. Errors (state unchanged): a different block in an already-voted
  /// round, a rule violated, or storage failed.
  ///
  /// `reserve_next_round` (the voter leads block.round + 1): the same synced write also saves
  /// block.round + 1 as proposed (SafetyData::last_proposed_round), before any proposal for it
  /// exists. This process may then sign its one proposal for that round with nothing more to
  /// write (sign_proposal), so the proposal can leave at once; a restarted process finds the
  /// round taken and does not propose in it, whether or not it had.
  Result<types::Vote> vote(const types::Block& block, const Hash32& block_id,
                           const types::TimeoutCert* tc, bool reserve_next_round = false);

  /// Signs a timeout for `round` carrying `high_qc`; `last_tc` is the TC that opened `round`, if
  /// any. Errors (state unchanged): a rule violated or storage failed. `reserve_next_round`: as
  /// for vote(), round + 1.
  Result<types::Timeout> timeout(Round round, const types::QuorumCert& high_qc,
                                 const types::TimeoutCert* last_tc,
                                 bool reserve_next_round = false);

  /// Signs a leader's own block for `round`: once per round, across restarts (the round is
  /// saved before the signature exists), so a leader killed after proposing cannot propose a
  /// different block in the same round when it comes back. The leader's vote for its block
  /// still goes through vote(). A round this process reserved (vote() or timeout() with
  /// `reserve_next_round`) is durable already: nothing is written, and the proposal may leave
  /// at once (synced() stays true). Otherwise the round is saved unsynced
  /// (SafetyStorage::save_unsynced): the leader's own vote, signed right after, syncs it with
  /// its own record, so a round costs the leader one synced write, not two; call sync_pending()
  /// before the proposal leaves.
  Result<crypto::Ed25519Signature> sign_proposal(Round round, const Hash32& block_id);

  /// Syncs what sign_proposal saved, unless a vote or timeout has synced it since. Until this
  /// returns, a signed proposal must not leave the process.
  Status sync_pending();
  /// True when everything signed so far is durable against a machine crash.
  bool synced() const { return !unsynced_; }

  const SafetyData& data() const { return data_; }

 private:
  // Saves `next` through storage (save(), or save_unsynced() when !synced), then adopts it.
  Status persist(const SafetyData& next, bool synced = true);
  // A synced persist() that also saves `reserve` (0: none) as proposed and, once it is durable,
  // reserves it for this process's one proposal in that round (see vote()).
  Status persist_reserving(SafetyData next, Round reserve);

  crypto::Ed25519KeyPair key_;
  types::ValidatorIndex self_;
  SafetyStorage& storage_;
  SafetyData data_;
  bool unsynced_ = false;  // sign_proposal saved data_ unsynced; no save() since
  // The round this process reserved for its next proposal (durable in data_, not yet signed);
  // 0 for none. Not persisted: after a restart a reserved round counts as proposed.
  Round reserved_round_ = 0;
};

}  // namespace ol::consensus
