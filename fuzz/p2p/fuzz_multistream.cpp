// multistream-select: the one-shot decoder, and both negotiation roles reading hostile input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "memory_stream.h"
#include "p2p/multistream.h"

using namespace ol;
using namespace ol::p2p;

namespace {
Task<void> negotiate(ByteView in, bool dialer) {
  fuzz::MemoryStream s(in);
  if (dialer) {
    std::vector<std::string> protos = {"/noise", "/yamux/1.0.0"};
    (void)co_await multistream::select(s, protos);
  } else {
    (void)co_await multistream::handle(s, [](std::string_view p) { return p == "/noise"; });
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView in(data, size);
  for (std::size_t off = 0; off < in.size();) {
    auto m = multistream::try_decode_message(in.subspan(off));
    if (!m || !m->has_value()) break;
    if ((*m)->text.size() + 1 > multistream::kMaxMessage) std::abort();
    off += (*m)->size;
  }
  asio::io_context io;
  asio::co_spawn(io, negotiate(in, true), asio::detached);
  asio::co_spawn(io, negotiate(in, false), asio::detached);
  io.run();
  return 0;
}
