// A set of writes that Store::write applies all-or-nothing.
//
// Storage knows nothing of blocks or state beyond bytes: the upper layers encode, storage keeps.
// A committed block, its certificate and the state it produced go in ONE WriteBatch, so a crash
// leaves either all of them or none of them on disk.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace ol::storage {

/// The column families. Each holds one kind of record; keys are chosen per column (see store.h).
enum class Column : std::uint8_t {
  blocks,       // block hash -> encoded block (committed or not yet committed)
  heights,      // big-endian height -> block hash of the committed block at that height
  qcs,          // block hash -> encoded quorum certificate for that block
  safety,       // name -> consensus safety record (always written synced)
  state,        // application key -> application value
  meta,         // name -> value (committed tip, pruning floor, schema version, ...)
  checkpoints,  // big-endian height -> encoded state checkpoint (snapshot manifest);
                // big-endian height || big-endian u32 index -> that snapshot's chunk
};
inline constexpr std::size_t kColumnCount = 7;

/// Stable on-disk name of a column family ("blocks", "heights", ...).
const char* column_name(Column c);

class WriteBatch {
 public:
  struct Op {
    Column column;
    bool is_delete;
    Bytes key;
    Bytes value;
  };

  /// Stores a block body under its hash (it may not be committed yet; see commit_block).
  void put_block(const Hash32& hash, ByteView encoded_block);
  /// Removes a block body, e.g. a fork that can never commit.
  void delete_block(const Hash32& hash);
  /// Records that `hash` is the committed block at `height` and moves the committed tip there.
  /// Heights must be committed in increasing order; the store rejects a batch that goes back.
  void commit_block(std::uint64_t height, const Hash32& hash);
  /// Stores the quorum certificate that certifies block `block_hash`.
  void put_qc(const Hash32& block_hash, ByteView encoded_qc);

  void put_state(ByteView key, ByteView value);
  void delete_state(ByteView key);

  void put_meta(std::string_view name, ByteView value);
  void put_checkpoint(std::uint64_t height, ByteView encoded_checkpoint);
  /// One chunk of the checkpoint at `height` (the checkpoint record says how many there are).
  void put_checkpoint_chunk(std::uint64_t height, std::uint32_t index, ByteView chunk);
  /// Removes the checkpoint record at `height`; its chunks are removed one by one.
  void delete_checkpoint(std::uint64_t height);
  void delete_checkpoint_chunk(std::uint64_t height, std::uint32_t index);

  /// Appends every operation of `other` after this batch's own (later writes win per key).
  void append(const WriteBatch& other);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }
  /// Bytes of keys and values (a rough size for metrics and limits).
  std::size_t byte_size() const { return bytes_; }
  const std::vector<Op>& ops() const { return ops_; }

  struct Commit {
    std::uint64_t height;
    Hash32 hash;
  };
  /// The blocks this batch commits, in the order commit_block was called.
  const std::vector<Commit>& commits() const { return commits_; }

 private:
  void add(Column c, bool del, ByteView key, ByteView value);

  std::vector<Op> ops_;
  std::size_t bytes_ = 0;
  std::vector<Commit> commits_;
};

/// Big-endian 8-byte key for a height: keeps the heights column sorted by number.
FixedBytes<8> height_key(std::uint64_t height);
/// height_key(height) || big-endian index: a checkpoint chunk's key, sorted after its record.
FixedBytes<12> checkpoint_chunk_key(std::uint64_t height, std::uint32_t index);

}  // namespace ol::storage
