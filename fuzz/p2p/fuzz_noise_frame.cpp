// Noise transport framing and the XX responder fed hostile handshake messages.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "p2p/noise.h"

using namespace ol;
using namespace ol::p2p;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Identity id = Identity::generate();
  static const noise::LocalKeys keys = noise::LocalKeys::create(id);
  ByteView in(data, size);

  // Transport frames: split, then try to authenticate each under a fixed key.
  noise::CipherState recv(FixedBytes<32>{});
  std::size_t consumed = 0;
  std::vector<ByteView> frames;
  for (;;) {
    auto f = noise::next_frame(in.subspan(consumed), consumed);
    if (!f || !f->has_value()) break;
    if ((*f)->size() > noise::kMaxFrame || consumed > in.size()) std::abort();
    frames.push_back(**f);
    Bytes plain;
    (void)recv.decrypt({}, **f, plain);
  }

  // Handshake: the first frame as message 1, the second as message 3.
  if (!frames.empty()) {
    noise::Handshake responder(false, keys);
    if (responder.read_message(frames[0], std::nullopt).ok()) {
      (void)responder.write_message();
      if (frames.size() > 1) (void)responder.read_message(frames[1], std::nullopt);
    }
  }
  // Initiator reading a hostile message 2.
  noise::Handshake initiator(true, keys);
  (void)initiator.write_message();
  (void)initiator.read_message(in, std::nullopt);
  return 0;
}
