// Test fixtures for sync: a validator set with known keys, and a chain of blocks certified by
// real quorum certificates, carrying real transfers and real state roots — what a consensus run
// commits, built directly so tests can make thousands of blocks quickly and deterministically.
#pragma once

#include <memory>
#include <vector>

#include "execution/ledger.h"
#include "execution/test_accounts.h"
#include "storage/store.h"
#include "sync/messages.h"

namespace ol::testing {

struct TestValidators {
  std::vector<crypto::Ed25519KeyPair> keys;
  crypto::ValidatorSet set;

  /// `n` validators with fixed seeds (seed byte `salt + i`): the same keys on every run.
  static TestValidators make(std::size_t n, std::uint8_t salt = 1) {
    std::vector<crypto::Ed25519KeyPair> keys;
    std::vector<crypto::Ed25519PublicKey> pubs;
    for (std::size_t i = 0; i < n; ++i) {
      Bytes seed(32, static_cast<std::uint8_t>(salt + i));
      keys.push_back(*crypto::Ed25519KeyPair::from_seed(seed));
      pubs.push_back(keys.back().public_key());
    }
    auto set = *crypto::ValidatorSet::create(std::move(pubs));
    return TestValidators{std::move(keys), std::move(set)};
  }

  /// A QC for `block` signed by the first quorum() validators.
  types::QuorumCert certify(const types::Block& block) const {
    const Hash32 id = block.compute_id();
    std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
    for (std::size_t i = 0; i < set.quorum(); ++i) {
      parts.emplace_back(i, keys[i].sign(types::vote_digest(id, block.round)));
    }
    return types::QuorumCert{id, block.round,
                             *crypto::QuorumSignature::from_parts(set.size(), parts)};
  }
};

inline const Hash32& genesis_id() {
  static const Hash32 id = types::Block::genesis().compute_id();
  return id;
}

/// Executes a certified block the way a syncing node does: every execution entry the block
/// anchors must equal this ledger's (execution::verify_anchors), then its transactions are
/// verified and applied. Returns the outcome (receipts, the new root, the state writes).
inline Result<execution::BlockOutcome> execute_block(execution::Ledger& ledger,
                                                     const types::Block& block) {
  OL_TRY(execution::verify_anchors(ledger, block));
  std::vector<types::TxRef> txs;
  if (const auto* list = std::get_if<std::vector<types::Transaction>>(&block.payload)) {
    for (const auto& tx : *list) {
      OL_TRY_ASSIGN(auto v, types::VerifiedTransaction::verify(tx, ledger.chain_id()));
      txs.push_back(std::make_shared<const types::VerifiedTransaction>(std::move(v)));
    }
  }
  return ledger.apply_block(
      execution::BlockInfo{block.height, block.timestamp_ms, block.compute_id()}, txs);
}

/// What the node writes when it commits a block: body, height index, QC and state, one batch.
inline Status commit_to_store(storage::Store& store, const sync::CertifiedBlock& c,
                              const storage::WriteBatch& state_writes) {
  storage::WriteBatch batch;
  batch.put_block(c.qc.block_id, codec::encode(c.block));
  batch.commit_block(c.block.height, c.qc.block_id);
  batch.put_qc(c.qc.block_id, codec::encode(c.qc));
  batch.append(state_writes);
  return store.write(batch);
}

/// Builds certified blocks on top of genesis, in consecutive rounds (so each block's child
/// commits it by the two-chain rule), executing each on its own ledger to fill the anchored
/// execution entries (each block anchors every height up to its parent).
class ChainBuilder {
 public:
  ChainBuilder(const TestValidators& validators, const execution::Genesis& genesis)
      : validators_(validators),
        ledger_(std::move(execution::Ledger::in_memory(genesis)).value()) {}

  /// The next block with `txs` (signed transactions), certified; applies it to the builder's
  /// ledger. `round_gap` > 0 skips rounds before it (as after a timeout).
  sync::CertifiedBlock next(std::vector<types::Transaction> txs, types::Round round_gap = 0) {
    types::Block b;
    b.round = last_round_ + 1 + round_gap;
    b.height = ledger_->applied_height() + 1;
    b.parent_id = parent_id_;
    b.justify = parent_qc_;
    b.proposer = static_cast<types::ValidatorIndex>(b.round % validators_.set.size());
    b.timestamp_ms = 1'700'000'000'000 + b.height;
    // Anchor every executed height not yet anchored (a real proposer lags a little more).
    b.exec_height = last_exec_height_;
    while (b.exec_height < ledger_->applied_height() &&
           b.exec_roots.size() < types::Block::kMaxExecRoots) {
      auto rec = ledger_->executed_at(++b.exec_height);
      b.exec_roots.push_back(types::exec_commitment(rec->block_id, rec->state_root));
    }
    last_exec_height_ = b.exec_height;
    b.payload = types::Payload(std::move(txs));
    sync::CertifiedBlock c{b, validators_.certify(b)};
    last_outcome_ = std::move(execute_block(*ledger_, b)).value();
    last_round_ = b.round;
    parent_id_ = c.qc.block_id;
    parent_qc_ = c.qc;
    return c;
  }

  execution::Ledger& ledger() { return *ledger_; }
  const execution::BlockOutcome& last_outcome() const { return last_outcome_; }

 private:
  const TestValidators& validators_;
  std::unique_ptr<execution::Ledger> ledger_;
  types::Round last_round_ = 0;
  types::Height last_exec_height_ = 0;
  Hash32 parent_id_ = genesis_id();
  types::QuorumCert parent_qc_ = types::QuorumCert::genesis(genesis_id());
  execution::BlockOutcome last_outcome_;
};

}  // namespace ol::testing
