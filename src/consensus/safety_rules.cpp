#include "consensus/safety_rules.h"

#include <algorithm>

namespace ol::consensus {

void SafetyData::encode(codec::Writer& w) const {
  w.u64(last_voted_round);
  w.u64(one_chain_round);
  w.u64(highest_timeout_round);
  w.optional(last_vote, [](codec::Writer& ww, const types::Vote& v) { v.encode(ww); });
  w.u64(last_proposed_round);
}

Result<SafetyData> SafetyData::decode(codec::Reader& r) {
  SafetyData d;
  OL_TRY_ASSIGN(d.last_voted_round, r.u64());
  OL_TRY_ASSIGN(d.one_chain_round, r.u64());
  OL_TRY_ASSIGN(d.highest_timeout_round, r.u64());
  OL_TRY_ASSIGN(d.last_vote,
                r.optional<types::Vote>([](codec::Reader& rr) { return types::Vote::decode(rr); }));
  OL_TRY_ASSIGN(d.last_proposed_round, r.u64());
  return d;
}

namespace rules {

bool is_new_round(Round round, Round last_voted_round) {
  return round > last_voted_round;
}

bool extends_previous_round(Round block_round, Round qc_round) {
  return block_round == qc_round + 1;
}

bool follows_timeout_with_highest_qc(Round block_round, Round qc_round,
                                     const types::TimeoutCert* tc) {
  return tc != nullptr && block_round == tc->round + 1 && qc_round >= tc->highest_qc_round();
}

bool safe_to_vote(Round block_round, Round qc_round, const types::TimeoutCert* tc) {
  return extends_previous_round(block_round, qc_round) ||
         follows_timeout_with_highest_qc(block_round, qc_round, tc);
}

bool is_not_past_round(Round round, Round last_voted_round) {
  return round >= last_voted_round;
}

bool is_next_round_of_qc_or_tc(Round round, Round qc_round, const types::TimeoutCert* tc) {
  return round == qc_round + 1 || (tc != nullptr && round == tc->round + 1);
}

bool carries_one_chain_qc(Round qc_round, Round one_chain_round) {
  return qc_round >= one_chain_round;
}

bool safe_to_timeout(Round round, Round qc_round, const types::TimeoutCert* tc,
                     Round one_chain_round) {
  return is_next_round_of_qc_or_tc(round, qc_round, tc) &&
         carries_one_chain_qc(qc_round, one_chain_round);
}

}  // namespace rules

SafetyRules::SafetyRules(crypto::Ed25519KeyPair key, types::ValidatorIndex self,
                         SafetyStorage& storage, SafetyData data)
    : key_(std::move(key)), self_(self), storage_(storage), data_(std::move(data)) {}

Status SafetyRules::persist(const SafetyData& next, bool synced) {
  OL_TRY(synced ? storage_.save(next) : storage_.save_unsynced(next));
  data_ = next;
  unsynced_ = !synced;  // a synced save covers the unsynced ones before it
  return {};
}

Status SafetyRules::persist_reserving(SafetyData next, Round reserve) {
  if (reserve <= next.last_proposed_round) return persist(next);  // none, or taken already
  next.last_proposed_round = reserve;
  OL_TRY(persist(next));
  reserved_round_ = reserve;
  return {};
}

Status SafetyRules::sync_pending() {
  if (!unsynced_) return {};
  OL_TRY(storage_.sync());
  unsynced_ = false;
  return {};
}

Result<types::Vote> SafetyRules::vote(const types::Block& block, const Hash32& block_id,
                                      const types::TimeoutCert* tc, bool reserve_next_round) {
  if (data_.last_vote && data_.last_vote->round == block.round) {
    if (data_.last_vote->block_id == block_id) return *data_.last_vote;
    return make_error(Errc::state,
                      "already voted for another block in round " + std::to_string(block.round));
  }
  if (!rules::is_new_round(block.round, data_.last_voted_round)) {
    return make_error(Errc::state, "round " + std::to_string(block.round) +
                                       " is not above last voted round " +
                                       std::to_string(data_.last_voted_round));
  }
  if (!rules::safe_to_vote(block.round, block.justify.round, tc)) {
    return make_error(Errc::state, "not safe to vote for round " + std::to_string(block.round));
  }
  types::Vote v{block_id, block.round, self_, key_.sign(types::vote_digest(block_id, block.round))};
  SafetyData next = data_;
  next.last_voted_round = block.round;
  next.one_chain_round = std::max(next.one_chain_round, block.justify.round);
  next.last_vote = v;
  OL_TRY(persist_reserving(next, reserve_next_round ? block.round + 1 : 0));
  return v;
}

Result<types::Timeout> SafetyRules::timeout(Round round, const types::QuorumCert& high_qc,
                                            const types::TimeoutCert* last_tc,
                                            bool reserve_next_round) {
  if (!rules::is_not_past_round(round, data_.last_voted_round)) {
    return make_error(Errc::state, "timeout for round " + std::to_string(round) +
                                       " below last voted round " +
                                       std::to_string(data_.last_voted_round));
  }
  if (!rules::safe_to_timeout(round, high_qc.round, last_tc, data_.one_chain_round)) {
    return make_error(Errc::state, "not safe to time out round " + std::to_string(round));
  }
  SafetyData next = data_;
  next.last_voted_round = std::max(next.last_voted_round, round);
  next.highest_timeout_round = std::max(next.highest_timeout_round, round);
  OL_TRY(persist_reserving(next, reserve_next_round ? round + 1 : 0));
  return types::Timeout{round, high_qc, self_,
                        key_.sign(types::timeout_digest(round, high_qc.round))};
}

Result<crypto::Ed25519Signature> SafetyRules::sign_proposal(Round round, const Hash32& block_id) {
  if (round == reserved_round_ && round == data_.last_proposed_round) {
    reserved_round_ = 0;  // one proposal per round: the reservation is used up
    return key_.sign(types::proposal_digest(block_id));
  }
  if (round <= data_.last_proposed_round) {
    return make_error(Errc::state, "already proposed in round " +
                                       std::to_string(data_.last_proposed_round) +
                                       "; not proposing again in round " + std::to_string(round));
  }
  SafetyData next = data_;
  next.last_proposed_round = round;
  OL_TRY(persist(next, /*synced=*/false));
  return key_.sign(types::proposal_digest(block_id));
}

}  // namespace ol::consensus
