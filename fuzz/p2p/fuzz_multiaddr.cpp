// Multiaddr binary and text decoders, and PeerId text parsing; what decodes must round-trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "p2p/multiaddr.h"

using namespace ol;
using namespace ol::p2p;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView in(data, size);
  if (auto ma = Multiaddr::from_bytes(in)) {
    if (ma->to_bytes() != Bytes(in.begin(), in.end())) std::abort();
    auto again = Multiaddr::parse(ma->to_string());
    if (!again || *again != *ma) std::abort();
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ma = Multiaddr::parse(text)) {
    if (Multiaddr::from_bytes(ma->to_bytes()).value_or(Multiaddr()) != *ma) std::abort();
  }
  (void)PeerId::parse(text);
  return 0;
}
