#include "storage/write_batch.h"

#include <algorithm>

namespace ol::storage {

const char* column_name(Column c) {
  switch (c) {
    case Column::blocks:
      return "blocks";
    case Column::heights:
      return "heights";
    case Column::qcs:
      return "qcs";
    case Column::safety:
      return "safety";
    case Column::state:
      return "state";
    case Column::meta:
      return "meta";
    case Column::checkpoints:
      return "checkpoints";
  }
  return "unknown";
}

FixedBytes<8> height_key(std::uint64_t height) {
  FixedBytes<8> k{};
  for (int i = 7; i >= 0; --i) {
    k[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(height);
    height >>= 8;
  }
  return k;
}

FixedBytes<12> checkpoint_chunk_key(std::uint64_t height, std::uint32_t index) {
  FixedBytes<12> k{};
  const auto h = height_key(height);
  std::copy(h.begin(), h.end(), k.begin());
  for (int i = 11; i >= 8; --i) {
    k[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(index);
    index >>= 8;
  }
  return k;
}

void WriteBatch::add(Column c, bool del, ByteView key, ByteView value) {
  ops_.push_back(Op{c, del, to_bytes(key), to_bytes(value)});
  bytes_ += key.size() + value.size();
}

void WriteBatch::put_block(const Hash32& hash, ByteView encoded_block) {
  add(Column::blocks, false, hash, encoded_block);
}

void WriteBatch::delete_block(const Hash32& hash) {
  add(Column::blocks, true, hash, {});
}

void WriteBatch::commit_block(std::uint64_t height, const Hash32& hash) {
  add(Column::heights, false, height_key(height), hash);
  commits_.push_back(Commit{height, hash});
}

void WriteBatch::put_qc(const Hash32& block_hash, ByteView encoded_qc) {
  add(Column::qcs, false, block_hash, encoded_qc);
}

void WriteBatch::put_state(ByteView key, ByteView value) {
  add(Column::state, false, key, value);
}

void WriteBatch::delete_state(ByteView key) {
  add(Column::state, true, key, {});
}

void WriteBatch::put_meta(std::string_view name, ByteView value) {
  add(Column::meta, false, as_bytes(name), value);
}

void WriteBatch::put_checkpoint(std::uint64_t height, ByteView encoded_checkpoint) {
  add(Column::checkpoints, false, height_key(height), encoded_checkpoint);
}

void WriteBatch::put_checkpoint_chunk(std::uint64_t height, std::uint32_t index, ByteView chunk) {
  add(Column::checkpoints, false, checkpoint_chunk_key(height, index), chunk);
}

void WriteBatch::delete_checkpoint(std::uint64_t height) {
  add(Column::checkpoints, true, height_key(height), {});
}

void WriteBatch::delete_checkpoint_chunk(std::uint64_t height, std::uint32_t index) {
  add(Column::checkpoints, true, checkpoint_chunk_key(height, index), {});
}

void WriteBatch::append(const WriteBatch& other) {
  ops_.insert(ops_.end(), other.ops_.begin(), other.ops_.end());
  bytes_ += other.bytes_;
  commits_.insert(commits_.end(), other.commits_.begin(), other.commits_.end());
}

}  // namespace ol::storage
