#include "consensus/aggregator.h"

namespace ol::consensus {
namespace {

// A round outside the window or a signer outside the set: counted, and true.
bool refused(DropCounts& drops, Round round, ValidatorIndex signer, RoundWindow window,
             std::size_t validators) {
  if (round < window.min) return ++drops.stale, true;
  if (round > window.max) return ++drops.wrong_round, true;
  if (signer >= validators) return ++drops.unknown_signer, true;
  return false;
}

}  // namespace

std::optional<types::QuorumCert> VoteAggregator::add(const types::Vote& vote, RoundWindow window,
                                                     bool own) {
  if (refused(drops_, vote.round, vote.voter, window, set_.size())) return std::nullopt;
  auto& r = rounds_[vote.round];
  // At most one signature check per voter and round (see the header): a voter's later votes,
  // and every vote once the round is certified, are dropped before any check.
  auto prior = r.by_voter.find(vote.voter);
  if (prior != r.by_voter.end()) {
    if (prior->second.block_id == vote.block_id) return ++drops_.duplicate, std::nullopt;
    return ++drops_.equivocation, std::nullopt;
  }
  if (r.bad_signers.contains(vote.voter)) return ++drops_.after_bad_signature, std::nullopt;
  if (r.certified) return ++drops_.after_quorum, std::nullopt;
  if (!own && !vote.verify(set_).ok()) {
    r.bad_signers.insert(vote.voter);
    return ++drops_.bad_signature, std::nullopt;
  }
  r.by_voter.emplace(vote.voter, vote);

  std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
  for (const auto& [voter, v] : r.by_voter) {
    if (v.block_id == vote.block_id) parts.emplace_back(voter, v.signature);
  }
  if (parts.size() < set_.quorum()) return std::nullopt;
  auto sig = crypto::QuorumSignature::from_parts(set_.size(), parts);
  if (!sig.ok()) return std::nullopt;  // unreachable: indices are distinct and in range
  r.certified = true;
  return types::QuorumCert{vote.block_id, vote.round, std::move(*sig)};
}

void VoteAggregator::prune_below(Round round) {
  rounds_.erase(rounds_.begin(), rounds_.lower_bound(round));
}

std::optional<types::TimeoutCert> TimeoutAggregator::add(const types::Timeout& timeout,
                                                         RoundWindow window) {
  if (refused(drops_, timeout.round, timeout.author, window, set_.size())) return std::nullopt;
  auto& r = rounds_[timeout.round];
  // At most one signature check per author and round (see the header). A second timeout from
  // one author (e.g. re-sent with a higher QC) adds nothing to the quorum; the first is kept.
  if (r.by_author.contains(timeout.author)) return ++drops_.duplicate, std::nullopt;
  if (r.bad_signers.contains(timeout.author)) {
    return ++drops_.after_bad_signature, std::nullopt;
  }
  if (r.certified) return ++drops_.after_quorum, std::nullopt;
  if (!timeout.verify_signature(set_).ok()) {
    r.bad_signers.insert(timeout.author);
    return ++drops_.bad_signature, std::nullopt;
  }
  r.by_author.emplace(timeout.author, timeout);
  if (r.by_author.size() < set_.quorum()) return std::nullopt;

  types::TimeoutCert tc;
  tc.round = timeout.round;
  std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
  for (const auto& [author, t] : r.by_author) {  // ascending signer order, as the TC requires
    parts.emplace_back(author, t.signature);
    tc.hqc_rounds.push_back(t.high_qc.round);
    if (parts.size() == 1 || t.high_qc.round > tc.high_qc.round) tc.high_qc = t.high_qc;
  }
  auto sig = crypto::QuorumSignature::from_parts(set_.size(), parts);
  if (!sig.ok()) return std::nullopt;
  tc.signature = std::move(*sig);
  r.certified = true;
  return tc;
}

void TimeoutAggregator::prune_below(Round round) {
  rounds_.erase(rounds_.begin(), rounds_.lower_bound(round));
}

std::size_t TimeoutAggregator::count(Round round) const {
  auto it = rounds_.find(round);
  return it == rounds_.end() ? 0 : it->second.by_author.size();
}

}  // namespace ol::consensus
