#include "consensus/aggregator.h"

namespace ol::consensus {

std::optional<types::QuorumCert> VoteAggregator::add(const types::Vote& vote, RoundWindow window,
                                                     bool own) {
  if (!window.contains(vote.round)) return ++drops_.wrong_round, std::nullopt;
  if (vote.voter >= set_.size()) return ++drops_.unknown_signer, std::nullopt;
  auto& r = rounds_[vote.round];
  auto prior = r.by_voter.find(vote.voter);
  // An exact replay is dropped without paying for a signature check, and so is any vote once
  // the round is certified (one QC per round: it would change nothing). Anything else is
  // verified first, so a forged vote "from" X cannot block X's real one.
  if (prior != r.by_voter.end() && prior->second == vote) return ++drops_.duplicate, std::nullopt;
  if (r.certified) return ++drops_.after_quorum, std::nullopt;
  if (!own && !vote.verify(set_).ok()) return ++drops_.bad_signature, std::nullopt;
  if (prior != r.by_voter.end()) {
    if (prior->second.block_id == vote.block_id) return ++drops_.duplicate, std::nullopt;
    return ++drops_.equivocation, std::nullopt;
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
  if (!window.contains(timeout.round)) return ++drops_.wrong_round, std::nullopt;
  if (timeout.author >= set_.size()) return ++drops_.unknown_signer, std::nullopt;
  auto& r = rounds_[timeout.round];
  auto prior = r.by_author.find(timeout.author);
  if (prior != r.by_author.end() && prior->second == timeout) {
    return ++drops_.duplicate, std::nullopt;
  }
  if (!timeout.verify_signature(set_).ok()) return ++drops_.bad_signature, std::nullopt;
  // A second valid timeout from one signer in a round (e.g. re-sent with a higher QC) adds
  // nothing to the quorum; the first is kept.
  if (prior != r.by_author.end()) return ++drops_.duplicate, std::nullopt;
  if (r.certified) return ++drops_.after_quorum, std::nullopt;
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
