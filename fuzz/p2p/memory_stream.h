// A ByteStream over a fixed input (reads) that discards writes, for driving protocol code.
#pragma once

#include <algorithm>
#include <cstring>

#include "p2p/byte_stream.h"

namespace ol::p2p::fuzz {

class MemoryStream final : public ByteStream {
 public:
  explicit MemoryStream(ByteView in, std::size_t max_chunk = 7) : in_(in), max_chunk_(max_chunk) {}
  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf) override {
    const std::size_t n = std::min({buf.size(), in_.size() - pos_, max_chunk_});
    std::memcpy(buf.data(), in_.data() + pos_, n);
    pos_ += n;
    co_return n;
  }
  Task<Status> write(ByteView data) override {
    written_ += data.size();
    co_return ok_status();
  }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
  std::size_t max_chunk_;
  std::size_t written_ = 0;
};

}  // namespace ol::p2p::fuzz
