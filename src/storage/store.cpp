#include "storage/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>

#include "storage/key_versions_memtable.h"

namespace ol::storage {
namespace {

constexpr std::string_view kTipKey = "committed_tip";      // u64 BE height || hash
constexpr std::string_view kPrunedKey = "pruned_below";    // u64 BE
constexpr std::string_view kSchemaKey = "schema_version";  // u64 BE
constexpr std::uint64_t kSchemaVersion = 1;

constexpr std::array<Column, kColumnCount> kColumns = {
    Column::blocks, Column::heights, Column::qcs,        Column::safety,
    Column::state,  Column::meta,    Column::checkpoints};

rocksdb::Slice slice(ByteView v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}
rocksdb::Slice slice(std::string_view v) {
  return {v.data(), v.size()};
}
ByteView view(const rocksdb::Slice& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::uint64_t read_be64(ByteView v) {
  std::uint64_t x = 0;
  for (std::size_t i = 0; i < 8; ++i) x = (x << 8) | v[i];
  return x;
}

/// Turns a RocksDB status into the project's error, naming what was being done.
Error to_error(const rocksdb::Status& s, const std::string& what) {
  std::string msg = what + ": " + s.ToString();
  if (s.IsNotFound()) return make_error(Errc::not_found, msg);
  if (s.IsCorruption()) return make_error(Errc::io, "corruption: " + msg);
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return make_error(Errc::state, msg);
  }
  return make_error(Errc::io, msg);
}

}  // namespace

struct Store::Impl {
  std::filesystem::path dir;
  Options options;
  std::unique_ptr<rocksdb::DB> db;
  std::array<rocksdb::ColumnFamilyHandle*, kColumnCount> cf{};
  rocksdb::ReadOptions read_options;

  // Guards the tip and pruning floor: writes that commit blocks are serialized.
  mutable std::mutex write_mu;
  std::optional<CommittedTip> tip;
  std::uint64_t pruned_below = 0;

  rocksdb::ColumnFamilyHandle* handle(Column c) const { return cf[static_cast<std::size_t>(c)]; }

  Result<std::optional<Bytes>> get(Column c, ByteView key) const {
    rocksdb::PinnableSlice value;
    auto s = db->Get(read_options, handle(c), slice(key), &value);
    if (s.IsNotFound()) return std::optional<Bytes>{};
    if (!s.ok()) return to_error(s, std::string("read ") + column_name(c));
    return std::optional<Bytes>(to_bytes(view(value)));
  }

  ~Impl() {
    if (!db) return;
    for (auto* h : cf) {
      if (h) db->DestroyColumnFamilyHandle(h);
    }
    db->Close();
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::filesystem::path& Store::dir() const {
  return impl_->dir;
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir,
                                           const Options& options) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir / "CURRENT", ec);
  if (!exists) {
    if (!options.create_if_missing) {
      return make_error(Errc::not_found, "no database in " + dir.string());
    }
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return make_error(Errc::io,
                        "cannot create database directory " + dir.string() + ": " + ec.message());
    }
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.db_write_buffer_size = options.memtable_budget_bytes;

  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  // Refuse column families this version does not know (a newer schema wrote them).
  if (exists) {
    std::vector<std::string> names;
    auto s = rocksdb::DB::ListColumnFamilies(db_options, dir.string(), &names);
    if (!s.ok()) return to_error(s, "open " + dir.string());
    for (const auto& name : names) {
      bool known = name == rocksdb::kDefaultColumnFamilyName;
      for (Column c : kColumns) known = known || name == column_name(c);
      if (!known) {
        return make_error(Errc::state, "open " + dir.string() + ": unknown column family '" + name +
                                           "' (written by a newer version?)");
      }
    }
  }

  // The application state and the transaction records are written at random keys (addresses,
  // hashes), many per committed block, and the same keys again and again (an account every block
  // it is touched, the state root and high QC every block). Their memtable finds a key by hash and
  // keeps its versions newest first (storage/key_versions_memtable.h); a skip list would search
  // hundreds of thousands of entries per insert. Point reads are as fast; an ordered scan of these
  // columns (at start-up, for a snapshot) sorts the memtable once.
  rocksdb::ColumnFamilyOptions hashed_options = cf_options;
  hashed_options.memtable_factory = std::make_shared<KeyVersionsRepFactory>();
  // One writer at a time, as that memtable needs.
  db_options.allow_concurrent_memtable_write = false;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (Column c : kColumns) {
    const bool hashed = c == Column::state || c == Column::meta;
    descriptors.emplace_back(column_name(c), hashed ? hashed_options : cf_options);
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, dir.string(), descriptors, &handles, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return make_error(Errc::state, "database " + dir.string() +
                                         " is already open (its LOCK is held by another process "
                                         "or Store): " +
                                         s.ToString());
    }
    return to_error(s, "open " + dir.string());
  }

  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  impl->db.reset(raw);
  impl->read_options.verify_checksums = true;
  raw->DestroyColumnFamilyHandle(handles[0]);  // default family: unused
  for (std::size_t i = 0; i < kColumnCount; ++i) impl->cf[i] = handles[i + 1];

  // Schema version: written on creation, checked on every open.
  OL_TRY_ASSIGN(auto schema, impl->get(Column::meta, as_bytes(kSchemaKey)));
  if (!schema) {
    auto key = height_key(kSchemaVersion);
    auto ws = raw->Put(rocksdb::WriteOptions(), impl->handle(Column::meta), slice(kSchemaKey),
                       slice(ByteView(key)));
    if (!ws.ok()) return to_error(ws, "write schema version");
  } else if (schema->size() != 8 || read_be64(*schema) != kSchemaVersion) {
    return make_error(Errc::state, "open " + dir.string() + ": unsupported schema version");
  }

  OL_TRY_ASSIGN(auto tip, impl->get(Column::meta, as_bytes(kTipKey)));
  if (tip) {
    if (tip->size() != 40) return make_error(Errc::io, "corruption: committed tip record size");
    CommittedTip t;
    t.height = read_be64(*tip);
    std::memcpy(t.hash.data(), tip->data() + 8, 32);
    impl->tip = t;
  }
  OL_TRY_ASSIGN(auto pruned, impl->get(Column::meta, as_bytes(kPrunedKey)));
  if (pruned) {
    if (pruned->size() != 8) return make_error(Errc::io, "corruption: pruning floor record size");
    impl->pruned_below = read_be64(*pruned);
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Status Store::write(const WriteBatch& batch, Durability durability) {
  Impl& d = *impl_;
  std::lock_guard lock(d.write_mu);

  std::optional<CommittedTip> new_tip = d.tip;
  for (const auto& c : batch.commits()) {
    if (new_tip && c.height <= new_tip->height) {
      return make_error(Errc::state, "commit of height " + std::to_string(c.height) +
                                         " not above committed height " +
                                         std::to_string(new_tip->height));
    }
    new_tip = CommittedTip{c.height, c.hash};
  }

  // Applied in key order per column (stable, so later writes to one key still win): each
  // memtable insert then starts from the previous one's position in the skip list rather than
  // from the top, which matters for the many hash-keyed records of a committed block.
  const auto& ops = batch.ops();
  std::vector<std::uint32_t> order(ops.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (ops[a].column != ops[b].column) return ops[a].column < ops[b].column;
    return ops[a].key < ops[b].key;
  });
  rocksdb::WriteBatch wb;
  for (const std::uint32_t i : order) {
    const auto& op = ops[i];
    auto s = op.is_delete ? wb.Delete(d.handle(op.column), slice(op.key))
                          : wb.Put(d.handle(op.column), slice(op.key), slice(op.value));
    if (!s.ok()) return to_error(s, "build write batch");
  }

  std::uint64_t new_floor = d.pruned_below;
  if (new_tip != d.tip) {
    const Bytes tip_record = concat(height_key(new_tip->height), new_tip->hash);
    wb.Put(d.handle(Column::meta), slice(kTipKey), slice(tip_record));

    // Prune committed bodies below tip - N + 1 in this same batch.
    const std::uint64_t keep = d.options.keep_blocks;
    if (keep > 0 && new_tip->height + 1 > keep) {
      const std::uint64_t floor = new_tip->height + 1 - keep;
      for (std::uint64_t h = d.pruned_below; h < floor; ++h) {
        std::optional<Hash32> hash;
        for (const auto& c : batch.commits()) {
          if (c.height == h) hash = c.hash;
        }
        if (!hash) {
          OL_TRY_ASSIGN(hash, block_hash_at(h));
        }
        if (hash) wb.Delete(d.handle(Column::blocks), slice(ByteView(*hash)));
      }
      if (floor > new_floor) {
        new_floor = floor;
        auto key = height_key(new_floor);
        wb.Put(d.handle(Column::meta), slice(kPrunedKey), slice(ByteView(key)));
      }
    }
  }

  rocksdb::WriteOptions wo;
  wo.sync = durability == Durability::synced;
  auto s = d.db->Write(wo, &wb);
  if (!s.ok()) return to_error(s, "write batch");
  d.tip = new_tip;
  d.pruned_below = new_floor;
  return ok_status();
}

Status Store::put_safety(std::string_view name, ByteView record, Durability durability) {
  rocksdb::WriteOptions wo;
  wo.sync = durability == Durability::synced;
  auto s = impl_->db->Put(wo, impl_->handle(Column::safety), slice(name), slice(record));
  if (!s.ok()) return to_error(s, "write safety record");
  return ok_status();
}

Status Store::sync_wal() {
  auto s = impl_->db->SyncWAL();
  if (!s.ok()) return to_error(s, "sync write-ahead log");
  return ok_status();
}

Result<std::optional<Bytes>> Store::get_safety(std::string_view name) const {
  return impl_->get(Column::safety, as_bytes(name));
}

Result<std::optional<Bytes>> Store::get_block(const Hash32& hash) const {
  return impl_->get(Column::blocks, hash);
}

Result<std::optional<Hash32>> Store::block_hash_at(std::uint64_t height) const {
  auto key = height_key(height);
  OL_TRY_ASSIGN(auto raw, impl_->get(Column::heights, key));
  if (!raw) return std::optional<Hash32>{};
  if (raw->size() != 32) return make_error(Errc::io, "corruption: height index record size");
  Hash32 h;
  std::memcpy(h.data(), raw->data(), 32);
  return std::optional<Hash32>(h);
}

Result<std::optional<Bytes>> Store::get_block_at(std::uint64_t height) const {
  OL_TRY_ASSIGN(auto hash, block_hash_at(height));
  if (!hash) return std::optional<Bytes>{};
  return get_block(*hash);
}

Result<std::optional<Bytes>> Store::get_qc(const Hash32& block_hash) const {
  return impl_->get(Column::qcs, block_hash);
}

Result<std::optional<CommittedTip>> Store::committed_tip() const {
  std::lock_guard lock(impl_->write_mu);
  return impl_->tip;
}

std::uint64_t Store::pruned_below() const {
  std::lock_guard lock(impl_->write_mu);
  return impl_->pruned_below;
}

Result<std::optional<Bytes>> Store::get_state(ByteView key) const {
  return impl_->get(Column::state, key);
}

namespace {
// Visits the keys of `column` that start with `prefix`, in order, until `visit` returns false.
Status scan_prefix(rocksdb::DB& db, const rocksdb::ReadOptions& read_options,
                   rocksdb::ColumnFamilyHandle* column, ByteView prefix,
                   const std::function<bool(ByteView, ByteView)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(read_options, column));
  for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
    ByteView key = view(it->key());
    if (key.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), key.begin())) {
      break;
    }
    if (!visit(key, view(it->value()))) break;
  }
  if (!it->status().ok()) return to_error(it->status(), "iterate state");
  return ok_status();
}
}  // namespace

Status Store::for_each_state(ByteView prefix,
                             const std::function<bool(ByteView, ByteView)>& visit) const {
  return scan_prefix(*impl_->db, impl_->read_options, impl_->handle(Column::state), prefix, visit);
}

struct StateView::Impl {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* state = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
  rocksdb::ReadOptions read_options;
};

StateView::StateView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StateView::~StateView() {
  if (impl_ && impl_->snapshot != nullptr) impl_->db->ReleaseSnapshot(impl_->snapshot);
}

Status StateView::for_each_state(ByteView prefix,
                                 const std::function<bool(ByteView, ByteView)>& visit) const {
  return scan_prefix(*impl_->db, impl_->read_options, impl_->state, prefix, visit);
}

std::unique_ptr<StateView> Store::state_view() const {
  auto v = std::make_unique<StateView::Impl>();
  v->db = impl_->db.get();
  v->state = impl_->handle(Column::state);
  v->snapshot = impl_->db->GetSnapshot();
  v->read_options = impl_->read_options;
  v->read_options.snapshot = v->snapshot;
  return std::unique_ptr<StateView>(new StateView(std::move(v)));
}

Status Store::flush() {
  std::vector<rocksdb::ColumnFamilyHandle*> all(impl_->cf.begin(), impl_->cf.end());
  auto s = impl_->db->Flush(rocksdb::FlushOptions(), all);
  if (!s.ok()) return to_error(s, "flush");
  return ok_status();
}

std::uint64_t Store::memtable_bytes() const {
  std::uint64_t total = 0;
  for (auto* cf : impl_->cf) {
    std::uint64_t v = 0;
    if (impl_->db->GetIntProperty(cf, rocksdb::DB::Properties::kCurSizeAllMemTables, &v))
      total += v;
  }
  return total;
}

Result<std::optional<Bytes>> Store::get_meta(std::string_view name) const {
  return impl_->get(Column::meta, as_bytes(name));
}

Result<std::optional<Bytes>> Store::get_checkpoint(std::uint64_t height) const {
  auto key = height_key(height);
  return impl_->get(Column::checkpoints, key);
}

Result<std::optional<Bytes>> Store::get_checkpoint_chunk(std::uint64_t height,
                                                         std::uint32_t index) const {
  auto key = checkpoint_chunk_key(height, index);
  return impl_->get(Column::checkpoints, key);
}

Result<std::vector<std::uint64_t>> Store::checkpoint_heights() const {
  std::vector<std::uint64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(impl_->read_options, impl_->handle(Column::checkpoints)));
  // One seek per checkpoint: each record's chunks sort right after it and are skipped.
  for (it->SeekToFirst(); it->Valid();) {
    ByteView key = view(it->key());
    if (key.size() < 8) return make_error(Errc::io, "corruption: checkpoint key size");
    const std::uint64_t h = read_be64(key);
    if (key.size() == 8) out.push_back(h);
    if (h == ~std::uint64_t{0}) break;
    auto next = height_key(h + 1);
    it->Seek(slice(ByteView(next)));
  }
  if (!it->status().ok()) return to_error(it->status(), "iterate checkpoints");
  return out;
}

}  // namespace ol::storage
