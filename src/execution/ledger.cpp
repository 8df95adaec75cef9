#include "execution/ledger.h"

#include <cstring>
#include <mutex>

#include "execution/state_root.h"

namespace ol::execution {
namespace {

constexpr std::string_view kAccountPrefix = "a/";
constexpr std::string_view kRootKey = "m/root";
constexpr std::string_view kHeightKey = "m/height";
constexpr std::string_view kGenesisKey = "m/genesis";

Bytes u64_bytes(std::uint64_t v) {
  codec::Writer w;
  w.u64(v);
  return w.take();
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

std::size_t Ledger::AddressHash::operator()(const crypto::Address& a) const {
  std::size_t h;  // addresses are Keccak output: any 8 bytes are uniformly distributed
  std::memcpy(&h, a.bytes.data(), sizeof h);
  return h;
}

Result<std::unique_ptr<Ledger>> Ledger::in_memory(const Genesis& genesis) {
  OL_TRY(genesis.validate());
  std::unique_ptr<Ledger> ledger(new Ledger());
  ledger->chain_id_ = genesis.chain_id;
  std::map<crypto::Address, Account> all;
  for (const auto& a : genesis.allocations) all[a.account] = Account{a.balance, 0};
  ledger->accounts_.insert(all.begin(), all.end());
  ledger->root_ = state_root_step(genesis.hash(), 0, all);
  ledger->height_ = 0;
  return ledger;
}

Result<std::unique_ptr<Ledger>> Ledger::open(storage::Store& store, const Genesis& genesis) {
  OL_TRY_ASSIGN(auto ledger, in_memory(genesis));
  const Hash32 genesis_hash = genesis.hash();
  OL_TRY_ASSIGN(auto stored_genesis, store.get_state(as_bytes(kGenesisKey)));

  if (!stored_genesis) {  // a fresh database: persist the genesis state
    storage::WriteBatch batch;
    for (const auto& [address, account] : ledger->accounts_) {
      batch.put_state(account_key(address), encode_account(account));
    }
    batch.put_state(as_bytes(kRootKey), ledger->root_);
    batch.put_state(as_bytes(kHeightKey), u64_bytes(0));
    batch.put_state(as_bytes(kGenesisKey), genesis_hash);
    OL_TRY(store.write(batch, storage::Durability::synced));
    return ledger;
  }
  if (ByteView(*stored_genesis).size() != 32 ||
      !std::equal(genesis_hash.begin(), genesis_hash.end(), stored_genesis->begin())) {
    return make_error(Errc::state, "the database was created with a different genesis");
  }

  ledger->accounts_.clear();
  Status decode_status;
  OL_TRY(store.for_each_state(as_bytes(kAccountPrefix), [&](ByteView key, ByteView value) {
    auto account = decode_account(value);
    if (!account.ok() || key.size() != kAccountPrefix.size() + 20) {
      decode_status = make_error(Errc::io, "corrupt account record in state");
      return false;
    }
    crypto::Address address;
    std::memcpy(address.bytes.data(), key.data() + kAccountPrefix.size(), 20);
    ledger->accounts_.emplace(address, *account);
    return true;
  }));
  OL_TRY(decode_status);

  OL_TRY_ASSIGN(auto root, store.get_state(as_bytes(kRootKey)));
  OL_TRY_ASSIGN(auto height, store.get_state(as_bytes(kHeightKey)));
  if (!root || root->size() != 32 || !height || height->size() != 8) {
    return make_error(Errc::io, "state root or height record missing or corrupt");
  }
  std::memcpy(ledger->root_.data(), root->data(), 32);
  codec::Reader hr(*height);
  OL_TRY_ASSIGN(ledger->height_, hr.u64());
  return ledger;
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

  out.state_root = state_root_step(root_, block.height, dirty);
  for (const auto& [address, account] : dirty) {
    out.writes.put_state(account_key(address), encode_account(account));
  }
  out.writes.put_state(as_bytes(kRootKey), out.state_root);
  out.writes.put_state(as_bytes(kHeightKey), u64_bytes(block.height));

  std::unique_lock lock(mu_);
  for (const auto& [address, account] : dirty) accounts_[address] = account;
  root_ = out.state_root;
  height_ = block.height;
  return out;
}

Hash32 Ledger::state_root() const {
  std::shared_lock lock(mu_);
  return root_;
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
