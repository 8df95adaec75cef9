#include "storage/key_versions_memtable.h"

#include <rocksdb/slice.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <vector>

namespace ol::storage {
namespace {

using rocksdb::Slice;
using Comparator = rocksdb::MemTableRep::KeyComparator;
using Entries = std::vector<const char*>;

// An entry (and a lookup's memtable key) is varint32 length || internal key, where the internal
// key is the user key || an 8-byte sequence number and type (then, for an entry, the value).
Slice user_key_of(const char* length_prefixed) {
  const Slice internal = rocksdb::GetLengthPrefixedSlice(length_prefixed);
  return {internal.data(), internal.size() - 8};
}

std::size_t hash_of(const Slice& user_key) {
  return std::hash<std::string_view>{}(std::string_view(user_key.data(), user_key.size()));
}

// rocksdb::LookupKey is declared in a header Debian does not install (db/lookup_key.h); an object
// of it starts with three pointers: its memtable key (varint32 length || internal key), the
// internal key, and the end. Get() reads them and checks that they agree before using them, so a
// RocksDB whose LookupKey is laid out otherwise stops here with a message, not a wrong read.
const char* memtable_key_of(const rocksdb::LookupKey& k) {
  struct Layout {
    const char* start;
    const char* internal;
    const char* end;
  } l{};
  std::memcpy(&l, static_cast<const void*>(&k), sizeof l);
  bool ok = l.start != nullptr && l.internal > l.start && l.internal - l.start <= 5 &&
            l.end - l.internal >= 8;
  if (ok) {
    std::uint32_t length = 0;
    int shift = 0;
    for (const char* p = l.start; p < l.internal; ++p, shift += 7) {
      const auto byte = static_cast<std::uint8_t>(*p);
      length |= std::uint32_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) {
        ok = p + 1 == l.internal;
        break;
      }
    }
    ok = ok && length == static_cast<std::uint32_t>(l.end - l.internal);
  }
  if (!ok) {
    std::fputs(
        "openliquid: this RocksDB's LookupKey is not laid out as 7.8's "
        "(storage/key_versions_memtable.cpp); refusing to read the memtable\n",
        stderr);
    std::abort();
  }
  return l.start;
}

struct Version {
  Version(const char* e, Version* o) : entry(e), older(o) {}
  const char* entry;
  std::atomic<Version*> older;
};

struct KeyNode {
  KeyNode(KeyNode* n, std::size_t h, const Slice& k, Version* v)
      : next(n), hash(h), key(k), newest(v) {}
  KeyNode* const next;  // the bucket's next key, fixed before this one is published
  const std::size_t hash;
  const Slice key;  // points into the first version's entry, which lives as long as the memtable
  std::atomic<Version*>
      newest;  // versions in the memtable's order: newest (highest sequence) first
};

class SortedIterator final : public rocksdb::MemTableRep::Iterator {
 public:
  SortedIterator(std::shared_ptr<const Entries> entries, const Comparator& compare)
      : entries_(std::move(entries)), compare_(compare), pos_(entries_->size()) {}

  bool Valid() const override { return pos_ < entries_->size(); }
  const char* key() const override { return (*entries_)[pos_]; }
  void Next() override { ++pos_; }
  void Prev() override { pos_ = pos_ == 0 ? entries_->size() : pos_ - 1; }
  void Seek(const Slice& internal_key, const char* memtable_key) override {
    pos_ = static_cast<std::size_t>(
        std::partition_point(entries_->begin(), entries_->end(),
                             [&](const char* e) { return below(e, internal_key, memtable_key); }) -
        entries_->begin());
  }
  void SeekForPrev(const Slice& internal_key, const char* memtable_key) override {
    // The last entry at or before the target.
    const auto after = std::partition_point(entries_->begin(), entries_->end(), [&](const char* e) {
      return !above(e, internal_key, memtable_key);
    });
    pos_ = after == entries_->begin() ? entries_->size()
                                      : static_cast<std::size_t>(after - entries_->begin()) - 1;
  }
  void SeekToFirst() override { pos_ = 0; }
  void SeekToLast() override { pos_ = entries_->empty() ? 0 : entries_->size() - 1; }

 private:
  int compare(const char* e, const Slice& internal_key, const char* memtable_key) const {
    return memtable_key != nullptr ? compare_(e, memtable_key) : compare_(e, internal_key);
  }
  bool below(const char* e, const Slice& ik, const char* mk) const {
    return compare(e, ik, mk) < 0;
  }
  bool above(const char* e, const Slice& ik, const char* mk) const {
    return compare(e, ik, mk) > 0;
  }

  std::shared_ptr<const Entries> entries_;
  const Comparator& compare_;
  std::size_t pos_;
};

class KeyVersionsRep final : public rocksdb::MemTableRep {
 public:
  KeyVersionsRep(const Comparator& compare, rocksdb::Allocator* allocator, std::size_t buckets)
      : MemTableRep(allocator),
        compare_(compare),
        mask_(buckets - 1),
        buckets_(new std::atomic<KeyNode*>[buckets]) {
    for (std::size_t i = 0; i < buckets; ++i) buckets_[i].store(nullptr, std::memory_order_relaxed);
  }

  void Insert(rocksdb::KeyHandle handle) override { (void)InsertKey(handle); }

  // The writer's thread only (no concurrent inserts), so its own loads need no ordering; each
  // new node is published with a release store that readers acquire.
  bool InsertKey(rocksdb::KeyHandle handle) override {
    const char* entry = static_cast<const char*>(handle);
    const Slice key = user_key_of(entry);
    const std::size_t hash = hash_of(key);
    std::atomic<KeyNode*>& bucket = buckets_[hash & mask_];
    KeyNode* node = find(bucket.load(std::memory_order_relaxed), key, hash);
    if (node == nullptr) {
      auto* version = new (allocate(sizeof(Version))) Version(entry, nullptr);
      node = new (allocate(sizeof(KeyNode)))
          KeyNode(bucket.load(std::memory_order_relaxed), hash, key, version);
      bucket.store(node, std::memory_order_release);
      return true;
    }
    // Sequence numbers only grow, so the new version is almost always the newest: one comparison.
    std::atomic<Version*>* link = &node->newest;
    Version* next = link->load(std::memory_order_relaxed);
    while (next != nullptr) {
      const int c = compare_(next->entry, entry);
      if (c == 0) return false;  // this key and sequence number are already here
      if (c > 0) break;
      link = &next->older;
      next = link->load(std::memory_order_relaxed);
    }
    link->store(new (allocate(sizeof(Version))) Version(entry, next), std::memory_order_release);
    return true;
  }

  bool Contains(const char* entry) const override {
    const KeyNode* node = node_of(entry);
    if (node == nullptr) return false;
    for (const Version* v = node->newest.load(std::memory_order_acquire); v != nullptr;
         v = v->older.load(std::memory_order_acquire)) {
      const int c = compare_(v->entry, entry);
      if (c == 0) return true;
      if (c > 0) return false;
    }
    return false;
  }

  // The versions of the lookup's user key that its sequence number can see, newest first, until
  // the callback has had enough (RocksDB's Get stops at the first value or deletion).
  void Get(const rocksdb::LookupKey& k, void* arg,
           bool (*callback)(void* arg, const char* entry)) override {
    const char* target = memtable_key_of(k);
    const KeyNode* node = node_of(target);
    if (node == nullptr) return;
    for (const Version* v = node->newest.load(std::memory_order_acquire); v != nullptr;
         v = v->older.load(std::memory_order_acquire)) {
      if (compare_(v->entry, target) < 0) continue;  // newer than the lookup's sequence number
      if (!callback(arg, v->entry)) return;
    }
  }

  void MarkReadOnly() override { read_only_.store(true, std::memory_order_release); }

  std::size_t ApproximateMemoryUsage() override {
    return (mask_ + 1) * sizeof(std::atomic<KeyNode*>);  // entries and nodes are in the arena
  }

  Iterator* GetIterator(rocksdb::Arena* arena) override {
    auto entries = sorted_entries();
    if (arena == nullptr) return new SortedIterator(std::move(entries), compare_);
    // With an arena RocksDB runs the iterator's destructor but does not free its memory (it
    // belongs to the arena, whose interface is not installed): keep that memory here. Iterators
    // never outlive their memtable, and a memtable has few (its flush, ordered scans).
    std::lock_guard lock(arena_iterators_mu_);
    arena_iterators_.push_back(std::make_unique<IteratorStorage>());
    return new (arena_iterators_.back()->bytes) SortedIterator(std::move(entries), compare_);
  }

 private:
  struct alignas(SortedIterator) IteratorStorage {
    unsigned char bytes[sizeof(SortedIterator)];
  };

  static KeyNode* find(KeyNode* node, const Slice& key, std::size_t hash) {
    for (; node != nullptr; node = node->next) {
      if (node->hash == hash && node->key == key) return node;
    }
    return nullptr;
  }

  // A reader's lookup: the node of the user key of `length_prefixed` (an entry or a lookup's
  // memtable key), or null.
  const KeyNode* node_of(const char* length_prefixed) const {
    const Slice key = user_key_of(length_prefixed);
    const std::size_t hash = hash_of(key);
    return find(buckets_[hash & mask_].load(std::memory_order_acquire), key, hash);
  }

  // Memory from the memtable's arena (freed with it), aligned for the nodes' pointers.
  void* allocate(std::size_t size) {
    constexpr std::size_t kAlign =
        alignof(KeyNode) > alignof(Version) ? alignof(KeyNode) : alignof(Version);
    char* buf = nullptr;
    MemTableRep::Allocate(size + kAlign - 1, &buf);
    const auto address = reinterpret_cast<std::uintptr_t>(buf);
    return buf + ((kAlign - address % kAlign) % kAlign);
  }

  // Every entry, in the memtable's order. Once read-only, the memtable sorts itself only once.
  std::shared_ptr<const Entries> sorted_entries() {
    if (!read_only_.load(std::memory_order_acquire)) return collect_sorted();
    std::call_once(sorted_once_, [this] { sorted_ = collect_sorted(); });
    return sorted_;
  }

  // Each key's versions are already in order, so only the keys are sorted (by any one version:
  // versions of different keys compare by key first), then each key's versions follow it. An
  // account written every block adds one entry per block but no work to the sort.
  std::shared_ptr<const Entries> collect_sorted() const {
    // Each key's newest version, read once: later versions are newer than this iterator anyway.
    std::vector<const Version*> keys;
    for (std::size_t b = 0; b <= mask_; ++b) {
      for (const KeyNode* n = buckets_[b].load(std::memory_order_acquire); n != nullptr;
           n = n->next) {
        keys.push_back(n->newest.load(std::memory_order_acquire));
      }
    }
    std::sort(keys.begin(), keys.end(), [this](const Version* a, const Version* b) {
      return compare_(a->entry, b->entry) < 0;
    });
    auto out = std::make_shared<Entries>();
    out->reserve(keys.size());
    for (const Version* newest : keys) {
      for (const Version* v = newest; v != nullptr; v = v->older.load(std::memory_order_acquire)) {
        out->push_back(v->entry);
      }
    }
    return out;
  }

  const Comparator& compare_;
  const std::size_t mask_;
  std::unique_ptr<std::atomic<KeyNode*>[]> buckets_;
  std::atomic<bool> read_only_{false};
  std::once_flag sorted_once_;
  std::shared_ptr<const Entries> sorted_;
  std::mutex arena_iterators_mu_;
  std::vector<std::unique_ptr<IteratorStorage>> arena_iterators_;
};

}  // namespace

KeyVersionsRepFactory::KeyVersionsRepFactory(std::size_t buckets) : buckets_(1) {
  while (buckets_ < buckets) buckets_ <<= 1;
}

rocksdb::MemTableRep* KeyVersionsRepFactory::CreateMemTableRep(
    const rocksdb::MemTableRep::KeyComparator& compare, rocksdb::Allocator* allocator,
    const rocksdb::SliceTransform* /*prefix*/, rocksdb::Logger* /*logger*/) {
  return new KeyVersionsRep(compare, allocator, buckets_);
}

}  // namespace ol::storage
