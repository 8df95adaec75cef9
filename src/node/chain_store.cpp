#include "node/chain_store.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <unordered_set>

#include "crypto/hash.h"

namespace ol::node {
namespace {

constexpr std::string_view kSafetyKey = "safety";
constexpr std::string_view kHighQcKey = "consensus/high_qc";
constexpr std::string_view kLastTcKey = "consensus/last_tc";

std::string tx_key(const Hash32& hash) {
  std::string key = "tx/";
  key.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  return key;
}

template <typename T>
Result<std::optional<T>> decode_optional(Result<std::optional<Bytes>> raw, const char* what) {
  OL_TRY_ASSIGN(auto bytes, std::move(raw));
  if (!bytes) return std::optional<T>{};
  auto value = codec::decode_exact<T>(*bytes);
  if (!value)
    return make_error(Errc::io, std::string("corrupt ") + what + ": " + value.error().message);
  return std::optional<T>(std::move(*value));
}

}  // namespace

Status StoreSafetyStorage::save(const consensus::SafetyData& data) {
  return store_.put_safety(kSafetyKey, codec::encode(data), storage::Durability::synced);
}

Status StoreSafetyStorage::save_unsynced(const consensus::SafetyData& data) {
  return store_.put_safety(kSafetyKey, codec::encode(data), storage::Durability::buffered);
}

Status StoreSafetyStorage::sync() {
  return store_.sync_wal();
}

Status StoreSafetyStorage::save_certificates(const types::QuorumCert& high_qc,
                                             const std::optional<types::TimeoutCert>& last_tc) {
  storage::WriteBatch batch;
  batch.put_meta(kHighQcKey, codec::encode(high_qc));
  if (last_tc) batch.put_meta(kLastTcKey, codec::encode(*last_tc));
  return store_.write(batch, storage::Durability::buffered);  // synced by the next save()
}

std::optional<types::Block> StoreCommittedBlocks::find(const Hash32& id) const {
  auto block = load_block(store_, id);
  if (!block.ok()) return std::nullopt;
  return std::move(*block);
}

Result<std::optional<types::Block>> load_block(const storage::Store& store, const Hash32& id) {
  return decode_optional<types::Block>(store.get_block(id), "block record");
}

Result<std::optional<types::Block>> load_committed_block(const storage::Store& store,
                                                         std::uint64_t height) {
  return decode_optional<types::Block>(store.get_block_at(height), "block record");
}

Result<bool> is_committed(const storage::Store& store, const Hash32& id, std::uint64_t height) {
  OL_TRY_ASSIGN(auto at, store.block_hash_at(height));
  return at && *at == id;
}

Result<std::optional<types::QuorumCert>> load_qc(const storage::Store& store, const Hash32& id) {
  return decode_optional<types::QuorumCert>(store.get_qc(id), "QC record");
}

Result<consensus::RecoveryState> load_recovery(const storage::Store& store) {
  consensus::RecoveryState state;
  OL_TRY_ASSIGN(auto safety, store.get_safety(kSafetyKey));
  if (safety) {
    codec::Reader r(*safety);
    auto data = consensus::SafetyData::decode(r);
    if (!data || !r.finish()) return make_error(Errc::io, "corrupt safety record");
    state.safety = std::move(*data);
  }
  OL_TRY_ASSIGN(state.high_qc,
                decode_optional<types::QuorumCert>(store.get_meta(kHighQcKey), "high QC record"));
  OL_TRY_ASSIGN(state.last_tc,
                decode_optional<types::TimeoutCert>(store.get_meta(kLastTcKey), "last TC record"));
  OL_TRY_ASSIGN(auto tip, store.committed_tip());
  if (!tip) return state;
  OL_TRY_ASSIGN(auto block, load_block(store, tip->hash));
  OL_TRY_ASSIGN(auto raw_qc, store.get_qc(tip->hash));
  if (!block || !raw_qc) {
    return make_error(Errc::io, "committed tip at height " + std::to_string(tip->height) +
                                    " lacks its block or QC");
  }
  auto qc = codec::decode_exact<types::QuorumCert>(*raw_qc);
  if (!qc) return make_error(Errc::io, "corrupt QC record: " + qc.error().message);
  state.root = std::move(*block);
  state.root_qc = std::move(*qc);
  return state;
}

void put_tx_record(storage::WriteBatch& batch, const Hash32& tx_hash, const TxRecord& record) {
  codec::Writer w;
  w.u64(record.height);
  w.u8(static_cast<std::uint8_t>(record.outcome));
  w.bytes(as_bytes(record.detail));
  batch.put_meta(tx_key(tx_hash), w.take());
}

Result<std::optional<TxRecord>> load_tx_record(const storage::Store& store, const Hash32& tx_hash) {
  OL_TRY_ASSIGN(auto raw, store.get_meta(tx_key(tx_hash)));
  if (!raw) return std::optional<TxRecord>{};
  codec::Reader r(*raw);
  TxRecord rec;
  auto height = r.u64();
  auto outcome = r.u8();
  auto detail = r.bytes(4096);
  if (!height || !outcome || !detail || !r.finish() || *outcome > 5) {
    return make_error(Errc::io, "corrupt transaction record");
  }
  rec.height = *height;
  rec.outcome = static_cast<execution::TxOutcome>(*outcome);
  rec.detail.assign(detail->begin(), detail->end());
  return std::optional<TxRecord>(std::move(rec));
}

std::vector<types::TxRef> resolve_for_commit(const types::Block& block, std::uint64_t chain_id,
                                             const mempool::Mempool* pool, std::string_view who) {
  std::vector<types::TxRef> out;
  const auto* txs = std::get_if<std::vector<types::Transaction>>(&block.payload);
  if (txs == nullptr) return out;
  out.reserve(txs->size());
  for (const auto& tx : *txs) {
    if (pool != nullptr) {
      if (auto known = pool->verified(tx.hash())) {
        out.push_back(std::move(known));
        continue;
      }
    }
    auto verified = types::VerifiedTransaction::verify(tx, chain_id);
    if (!verified) {
      spdlog::error("{}: block at height {} holds an invalid transaction ({}); skipped", who,
                    block.height, verified.error().message);
      continue;
    }
    out.push_back(std::make_shared<const types::VerifiedTransaction>(std::move(*verified)));
  }
  return out;
}

storage::WriteBatch build_commit_batch(const storage::Store& store, const types::Block& block,
                                       const Hash32& id, const types::QuorumCert& qc,
                                       bool block_stored, storage::WriteBatch state_writes,
                                       const std::vector<execution::Receipt>& receipts) {
  storage::WriteBatch batch = std::move(state_writes);
  if (!block_stored) batch.put_block(id, codec::encode(block));
  batch.commit_block(block.height, id);
  batch.put_qc(id, codec::encode(qc));
  // A replay (the same transaction included again) fails with bad_nonce; it must not replace
  // the receipt of the inclusion that executed. Only a bad_nonce receipt can be one, so the ids
  // of the block's earlier receipts are indexed when the first such receipt needs them (honest
  // blocks have none).
  std::unordered_set<Hash32, crypto::Hash32Hasher> earlier_here;
  std::size_t indexed = 0;
  for (std::size_t i = 0; i < receipts.size(); ++i) {
    const auto& r = receipts[i];
    if (r.outcome == execution::TxOutcome::bad_nonce) {
      for (; indexed < i; ++indexed) earlier_here.insert(receipts[indexed].tx_hash);
      if (earlier_here.contains(r.tx_hash)) continue;
      auto earlier = load_tx_record(store, r.tx_hash);
      if (earlier.ok() && earlier->has_value()) continue;
    }
    put_tx_record(batch, r.tx_hash, TxRecord{block.height, r.outcome, r.detail});
  }
  return batch;
}

}  // namespace ol::node
