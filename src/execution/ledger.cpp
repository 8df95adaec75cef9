#include "execution/ledger.h"

#include <cstring>
#include <mutex>

#include <algorithm>

namespace ol::execution {
namespace {

constexpr std::string_view kAccountPrefix = "a/";
constexpr std::string_view kRootKey = "m/root";
constexpr std::string_view kHeightKey = "m/height";
constexpr std::string_view kGenesisKey = "m/genesis";
constexpr std::string_view kInstallingKey = "m/installing";

Bytes u64_bytes(std::uint64_t v) {
  codec::Writer w;
  w.u64(v);
  return w.take();
}

// "r/" || height (big-endian, so keys sort by height) -> block id || state root after it.
constexpr std::string_view kRootHistoryPrefix = "r/";
Bytes encode_record(const ExecRecord& r) {
  Bytes v(r.block_id.begin(), r.block_id.end());
  v.insert(v.end(), r.state_root.begin(), r.state_root.end());
  return v;
}
Bytes root_history_key(std::uint64_t height) {
  Bytes k(kRootHistoryPrefix.begin(), kRootHistoryPrefix.end());
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<std::uint8_t>(height >> (8 * i)));
  return k;
}

// Visits every stored account record ("a/" || address -> account) that `scan` (a Store's or
// a StateView's for_each_state) shows. Errors: io on a record that does not decode.
template <typename Scan>
Status for_each_stored_account(
    const Scan& scan, const std::function<void(const crypto::Address&, const Account&)>& visit) {
  Status decode_status;
  OL_TRY(scan.for_each_state(as_bytes(kAccountPrefix), [&](ByteView key, ByteView value) {
    auto account = decode_account(value);
    if (!account.ok() || key.size() != kAccountPrefix.size() + 20) {
      decode_status = make_error(Errc::io, "corrupt account record in state");
      return false;
    }
    crypto::Address address;
    std::memcpy(address.bytes.data(), key.data() + kAccountPrefix.size(), 20);
    visit(address, *account);
    return true;
  }));
  return decode_status;
}

}  // namespace

const char* to_string(TxOutcome outcome) {
  switch (outcome) {
    case TxOutcome::success:
      return "success";
    case TxOutcome::wrong_chain:
      return "wrong chain id";
    case TxOutcome::bad_nonce:
      return "bad nonce";
    case TxOutcome::invalid_action:
      return "invalid action";
    case TxOutcome::insufficient_balance:
      return "insufficient balance";
    case TxOutcome::balance_overflow:
      return "recipient balance overflow";
  }
  return "unknown";
}

Bytes account_key(const crypto::Address& address) {
  return concat(as_bytes(kAccountPrefix), address.bytes);
}

Bytes encode_account(const Account& account) {
  codec::Writer w(24);
  w.u64(static_cast<std::uint64_t>(account.balance));
  w.u64(static_cast<std::uint64_t>(account.balance >> 64));
  w.u64(account.nonce);
  return w.take();
}

Result<Account> decode_account(ByteView bytes) {
  codec::Reader r(bytes);
  Account a;
  OL_TRY_ASSIGN(std::uint64_t lo, r.u64());
  OL_TRY_ASSIGN(std::uint64_t hi, r.u64());
  OL_TRY_ASSIGN(a.nonce, r.u64());
  OL_TRY(r.finish());
  a.balance = (types::Amount(hi) << 64) | lo;
  return a;
}

Result<std::unique_ptr<Ledger>> Ledger::in_memory(const Genesis& genesis) {
  OL_TRY(genesis.validate());
  std::unique_ptr<Ledger> ledger(new Ledger());
  ledger->chain_id_ = genesis.chain_id;
  for (const auto& a : genesis.allocations) ledger->accounts_[a.account] = Account{a.balance, 0};
  ledger->root_ = ledger->rebuild_commitment();
  ledger->height_ = 0;
  ledger->roots_[0] = ExecRecord{Hash32{}, ledger->root_};
  return ledger;
}

Result<std::unique_ptr<Ledger>> Ledger::open(storage::Store& store, const Genesis& genesis) {
  OL_TRY(genesis.validate());
  const Hash32 genesis_hash = genesis.hash();
  OL_TRY_ASSIGN(auto installing, store.get_state(as_bytes(kInstallingKey)));
  if (installing) {
    return make_error(Errc::state,
                      "the database holds an unfinished state-sync install; remove it and sync "
                      "again");
  }
  OL_TRY_ASSIGN(auto stored_genesis, store.get_state(as_bytes(kGenesisKey)));

  if (!stored_genesis) {  // a fresh database: build and persist the genesis state
    OL_TRY_ASSIGN(auto ledger, in_memory(genesis));
    storage::WriteBatch batch;
    for (const auto& [address, account] : ledger->accounts_) {
      batch.put_state(account_key(address), encode_account(account));
    }
    batch.put_state(as_bytes(kRootKey), ledger->root_);
    batch.put_state(as_bytes(kHeightKey), u64_bytes(0));
    batch.put_state(root_history_key(0), encode_record(ledger->roots_[0]));
    batch.put_state(as_bytes(kGenesisKey), genesis_hash);
    OL_TRY(store.write(batch, storage::Durability::synced));
    return ledger;
  }
  if (ByteView(*stored_genesis).size() != 32 ||
      !std::equal(genesis_hash.begin(), genesis_hash.end(), stored_genesis->begin())) {
    return make_error(Errc::state, "the database was created with a different genesis");
  }

  // An existing database: the stored accounts are the state (genesis is not rebuilt).
  std::unique_ptr<Ledger> ledger(new Ledger());
  ledger->chain_id_ = genesis.chain_id;
  ledger->accounts_.clear();
  OL_TRY(for_each_stored_account(store, [&](const crypto::Address& address, const Account& a) {
    ledger->accounts_.emplace(address, a);
  }));

  OL_TRY_ASSIGN(auto root, store.get_state(as_bytes(kRootKey)));
  OL_TRY_ASSIGN(auto height, store.get_state(as_bytes(kHeightKey)));
  if (!root || root->size() != 32 || !height || height->size() != 8) {
    return make_error(Errc::io, "state root or height record missing or corrupt");
  }
  std::memcpy(ledger->root_.data(), root->data(), 32);
  codec::Reader hr(*height);
  OL_TRY_ASSIGN(ledger->height_, hr.u64());
  Status decode_status;
  OL_TRY(store.for_each_state(as_bytes(kRootHistoryPrefix), [&](ByteView key, ByteView value) {
    if (key.size() != kRootHistoryPrefix.size() + 8 || value.size() != 64) {
      decode_status = make_error(Errc::io, "corrupt state root history record");
      return false;
    }
    std::uint64_t h = 0;
    for (std::size_t i = kRootHistoryPrefix.size(); i < key.size(); ++i) h = (h << 8) | key[i];
    auto& rec = ledger->roots_[h];
    std::memcpy(rec.block_id.data(), value.data(), 32);
    std::memcpy(rec.state_root.data(), value.data() + 32, 32);
    return true;
  }));
  OL_TRY(decode_status);
  if (auto it = ledger->roots_.find(ledger->height_);
      it == ledger->roots_.end() || it->second.state_root != ledger->root_) {
    return make_error(Errc::io, "the state root history does not end at the stored root");
  }
  while (ledger->roots_.size() > kRootHistory) ledger->roots_.erase(ledger->roots_.begin());
  if (ledger->rebuild_commitment() != ledger->root_) {
    return make_error(Errc::io,
                      "corruption: the stored accounts do not hash to the stored state "
                      "root at height " +
                          std::to_string(ledger->height_));
  }
  return ledger;
}

Hash32 Ledger::rebuild_commitment() {
  std::vector<AccountTree::Slot> slots;
  slots.reserve(accounts_.size());
  for (const auto& [address, account] : accounts_) {
    slots.push_back(AccountTree::Slot{StateCommitment::key_of(address), address});
  }
  return tree_.rebuild(std::move(slots), accounts_);
}

std::vector<Hash32> Ledger::bucket_hashes() const {
  auto h = tree_.bucket_hashes();
  return {h.begin(), h.end()};
}

void Ledger::visit_buckets(
    StateCommitment::Bucket first, StateCommitment::Bucket end,
    const std::function<bool(StateCommitment::Bucket, std::span<const StateEntry>)>& visit) const {
  std::shared_lock lock(mu_);
  std::vector<StateEntry> entries;
  for (auto b = first; b < std::min(end, StateCommitment::kBuckets); ++b) {
    tree_.bucket_entries(b, accounts_, entries);
    if (!visit(b, entries)) return;
  }
}

Status Ledger::visit_stored_buckets(
    const storage::StateView& view,
    const std::function<bool(StateCommitment::Bucket, std::span<const StateEntry>)>& visit) {
  struct Keyed {
    Hash32 key;
    StateEntry entry;
  };
  std::vector<Keyed> all;
  OL_TRY(for_each_stored_account(view, [&](const crypto::Address& address, const Account& a) {
    all.push_back(Keyed{StateCommitment::key_of(address), StateEntry{address, a}});
  }));
  // A key's first two bytes are its bucket, so key order is bucket order, then commitment order.
  std::sort(all.begin(), all.end(), [](const Keyed& x, const Keyed& y) { return x.key < y.key; });
  std::vector<StateEntry> entries;
  std::size_t i = 0;
  for (StateCommitment::Bucket b = 0; b < StateCommitment::kBuckets; ++b) {
    entries.clear();
    for (; i < all.size() && StateCommitment::bucket_of(all[i].key) == b; ++i) {
      entries.push_back(all[i].entry);
    }
    if (!visit(b, entries)) break;
  }
  return {};
}

Result<StateInstall> StateInstall::begin(storage::Store& store) {
  bool any = false;
  OL_TRY(store.for_each_state({}, [&](ByteView, ByteView) {
    any = true;
    return false;
  }));
  if (any) return make_error(Errc::state, "state install needs a store without state");
  storage::WriteBatch batch;
  batch.put_state(as_bytes(kInstallingKey), u64_bytes(1));
  OL_TRY(store.write(batch, storage::Durability::synced));
  return StateInstall(store);
}

Status StateInstall::add(std::span<const StateEntry> entries) {
  storage::WriteBatch batch;
  for (const auto& e : entries) batch.put_state(account_key(e.address), encode_account(e.account));
  return store_->write(batch);
}

Status StateInstall::finish(const Genesis& genesis, std::uint64_t height, const Hash32& block_id,
                            const Hash32& root) {
  storage::WriteBatch batch;
  batch.put_state(as_bytes(kRootKey), root);
  batch.put_state(as_bytes(kHeightKey), u64_bytes(height));
  batch.put_state(root_history_key(height), encode_record({block_id, root}));
  batch.put_state(as_bytes(kGenesisKey), genesis.hash());
  batch.delete_state(as_bytes(kInstallingKey));
  return store_->write(batch, storage::Durability::synced);
}

Account Ledger::lookup(const crypto::Address& a,
                       const std::map<crypto::Address, Account>& dirty) const {
  if (auto it = dirty.find(a); it != dirty.end()) return it->second;
  if (auto it = accounts_.find(a); it != accounts_.end()) return it->second;
  return Account{};
}

Receipt Ledger::apply_tx(const types::VerifiedTransaction& vtx,
                         std::map<crypto::Address, Account>& dirty) const {
  const types::Transaction& tx = vtx.tx;
  Receipt receipt{vtx.hash, TxOutcome::success, {}};
  auto fail = [&](TxOutcome outcome, std::string detail) {
    receipt.outcome = outcome;
    receipt.detail = std::move(detail);
    return receipt;
  };
  if (tx.chain_id != chain_id_) {
    return fail(TxOutcome::wrong_chain, "chain id " + std::to_string(tx.chain_id) + ", expected " +
                                            std::to_string(chain_id_));
  }
  const auto* transfer = std::get_if<types::Transfer>(&tx.action);
  if (transfer == nullptr || transfer->amount == 0) {
    return fail(TxOutcome::invalid_action, "transfer amount must be positive");
  }
  Account sender = lookup(vtx.sender, dirty);
  if (tx.nonce != sender.nonce) {
    return fail(TxOutcome::bad_nonce, "nonce " + std::to_string(tx.nonce) + ", account expects " +
                                          std::to_string(sender.nonce));
  }
  sender.nonce += 1;  // from here on the nonce is consumed, success or not
  if (sender.balance < transfer->amount) {
    dirty[vtx.sender] = sender;
    return fail(TxOutcome::insufficient_balance,
                "balance " + types::amount_to_string(sender.balance) + ", transfer " +
                    types::amount_to_string(transfer->amount));
  }
  if (transfer->to == vtx.sender) {  // a self-transfer moves nothing
    dirty[vtx.sender] = sender;
    return receipt;
  }
  Account recipient = lookup(transfer->to, dirty);
  if (recipient.balance > ~types::Amount(0) - transfer->amount) {
    dirty[vtx.sender] = sender;
    return fail(TxOutcome::balance_overflow, "recipient balance " +
                                                 types::amount_to_string(recipient.balance) +
                                                 " + " + types::amount_to_string(transfer->amount));
  }
  sender.balance -= transfer->amount;
  recipient.balance += transfer->amount;
  dirty[vtx.sender] = sender;
  dirty[transfer->to] = recipient;
  return receipt;
}

Result<BlockOutcome> Ledger::apply_block(const BlockInfo& block,
                                         std::span<const types::TxRef> txs) {
  // Only the core thread writes, so reading accounts_ here needs no lock.
  if (block.height != height_ + 1) {
    return make_error(Errc::state, "apply of height " + std::to_string(block.height) +
                                       " after height " + std::to_string(height_));
  }
  BlockOutcome out;
  out.receipts.reserve(txs.size());
  std::map<crypto::Address, Account> dirty;
  for (const auto& tx : txs) out.receipts.push_back(apply_tx(*tx, dirty));

  std::unique_lock lock(mu_);
  for (const auto& [address, account] : dirty) {
    accounts_[address] = account;
    tree_.touch(AccountTree::Slot{StateCommitment::key_of(address), address});
  }
  root_ = tree_.rehash(accounts_);
  height_ = block.height;
  roots_[block.height] = ExecRecord{block.block_id, root_};
  std::optional<std::uint64_t> forget;
  if (roots_.size() > kRootHistory) {
    forget = roots_.begin()->first;
    roots_.erase(roots_.begin());
  }
  lock.unlock();

  out.state_root = root_;
  for (const auto& [address, account] : dirty) {
    out.writes.put_state(account_key(address), encode_account(account));
  }
  out.writes.put_state(as_bytes(kRootKey), out.state_root);
  out.writes.put_state(as_bytes(kHeightKey), u64_bytes(block.height));
  out.writes.put_state(root_history_key(block.height),
                       encode_record({block.block_id, out.state_root}));
  if (forget) out.writes.delete_state(root_history_key(*forget));
  return out;
}

Hash32 Ledger::state_root() const {
  std::shared_lock lock(mu_);
  return root_;
}

Status verify_anchors(const Ledger& ledger, const types::Block& block) {
  if (block.exec_height > ledger.applied_height()) {
    return make_error(Errc::state, "block " + std::to_string(block.height) + " anchors height " +
                                       std::to_string(block.exec_height) + ", executed here only " +
                                       std::to_string(ledger.applied_height()));
  }
  for (std::uint64_t h = block.first_exec_height(); h <= block.exec_height; ++h) {
    auto rec = ledger.executed_at(h);
    if (!rec) {
      return make_error(Errc::not_found, "block " + std::to_string(block.height) +
                                             " anchors height " + std::to_string(h) +
                                             ", no longer kept here");
    }
    if (types::exec_commitment(rec->block_id, rec->state_root) != *block.exec_root_at(h)) {
      return make_error(Errc::verify, "block " + std::to_string(block.height) +
                                          " anchors another block or state root at height " +
                                          std::to_string(h) + " than this node executed");
    }
  }
  return {};
}

std::optional<ExecRecord> Ledger::executed_at(std::uint64_t height) const {
  std::shared_lock lock(mu_);
  auto it = roots_.find(height);
  if (it == roots_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t Ledger::applied_height() const {
  std::shared_lock lock(mu_);
  return height_;
}

std::uint64_t Ledger::next_nonce(const crypto::Address& account) const {
  return this->account(account).nonce;
}

Account Ledger::account(const crypto::Address& address) const {
  std::shared_lock lock(mu_);
  auto it = accounts_.find(address);
  return it == accounts_.end() ? Account{} : it->second;
}

std::size_t Ledger::account_count() const {
  std::shared_lock lock(mu_);
  return accounts_.size();
}

}  // namespace ol::execution
