// The protobuf decoders behind identify, PublicKey and the Noise handshake payload, on hostile
// bytes. Whatever decodes must re-encode to something that decodes to the same value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "p2p/identify.h"
#include "p2p/noise.h"

using namespace ol;
using namespace ol::p2p;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);

  if (auto info = identify::decode(in)) {
    auto again = identify::decode(identify::encode(*info));
    if (!again || again->protocols != info->protocols ||
        again->listen_addrs != info->listen_addrs || again->agent_version != info->agent_version ||
        again->public_key != info->public_key) {
      std::abort();
    }
  }

  if (auto key = unmarshal_public_key(in)) {
    auto again = unmarshal_public_key(marshal_public_key(*key));
    if (!again || *again != *key) std::abort();
  }

  // The input as the responder's handshake payload, in a full in-memory XX: the initiator must
  // reject it cleanly, or accept it only as the responder's own identity (nothing else can sign
  // the responder's static key).
  static const Identity initiator_id = Identity::generate(), responder_id = Identity::generate();
  static const noise::LocalKeys initiator_keys = noise::LocalKeys::create(initiator_id);
  static noise::LocalKeys responder_keys = noise::LocalKeys::create(responder_id);
  responder_keys.payload = to_bytes(in.first(std::min(in.size(), noise::kMaxPlaintext - 200)));
  noise::Handshake i(true, initiator_keys), r(false, responder_keys);
  auto m1 = i.write_message();
  if (!m1 || !r.read_message(*m1, std::nullopt).ok()) std::abort();
  auto m2 = r.write_message();
  if (!m2) std::abort();
  if (i.read_message(*m2, std::nullopt).ok() && i.remote_peer() != responder_id.peer_id)
    std::abort();
  return 0;
}
