// gossipsub RPC bounds and decoding (check_rpc): any input is either rejected with an error or
// decodes within the configured limits; nothing crashes, hangs or allocates beyond the input.
#include <cstddef>
#include <cstdint>

#include "p2p/gossipsub.h"

using namespace ol;
using namespace ol::p2p;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const gossipsub::Config config = [] {
    gossipsub::Config c;
    c.max_rpc_size = 64 * 1024;  // small limits so the fuzzer reaches them
    c.max_message_size = 4096;
    c.max_ihave_length = 64;
    c.max_ihave_messages = 4;
    return c;
  }();
  (void)gossipsub::check_rpc(ByteView(data, size), config);
  return 0;
}
