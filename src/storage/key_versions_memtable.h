// A RocksDB memtable for the columns written at random keys, many of them again and again (an
// account every block it is touched, the state root and high QC every block): a hash table of
// user keys, each with its versions newest first.
//
// Why not RocksDB's own: its hash skip-list memtable keeps every version of a key in that key's
// bucket, a skip list that an account written every block fills with hundreds of entries. Each
// insert searches it, and Debian's build (without NDEBUG) searches it a second time for an
// assertion: together ~25% of the core thread under load. Here an insert finds the key by hash
// and, because RocksDB's sequence numbers only grow, puts the new version in front after one
// comparison with the newest.
//
//   insert, point read   O(1) expected, plus the versions newer than the read's snapshot
//   ordered iteration    sorts the keys, not their versions, and copies the entries in order,
//                        once per iterator (once per memtable after it becomes read-only, e.g.
//                        for its flush); ordered scans are rare here (start-up, checkpoints)
//
// One writer at a time (RocksDB's allow_concurrent_memtable_write = false); readers run
// concurrently with it and see each version once it is published (release/acquire).
#pragma once

#include <rocksdb/memtablerep.h>

#include <cstddef>

namespace ol::storage {

class KeyVersionsRepFactory : public rocksdb::MemTableRepFactory {
 public:
  /// `buckets` is rounded up to a power of two (8 bytes each, per memtable).
  explicit KeyVersionsRepFactory(std::size_t buckets = std::size_t{1} << 17);

  using rocksdb::MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& compare,
                                          rocksdb::Allocator* allocator,
                                          const rocksdb::SliceTransform* prefix,
                                          rocksdb::Logger* logger) override;
  const char* Name() const override { return "OpenLiquidKeyVersionsRepFactory"; }
  bool CanHandleDuplicatedKey() const override { return true; }

 private:
  std::size_t buckets_;
};

}  // namespace ol::storage
