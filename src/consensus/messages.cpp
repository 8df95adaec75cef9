#include "consensus/messages.h"

namespace ol::consensus {
namespace {

template <typename T>
void encode_opt(codec::Writer& w, const std::optional<T>& v) {
  w.optional(v, [](codec::Writer& ww, const T& x) { x.encode(ww); });
}
template <typename T>
Result<std::optional<T>> decode_opt(codec::Reader& r) {
  return r.optional<T>([](codec::Reader& rr) { return T::decode(rr); });
}

struct Encoder {
  codec::Writer& w;
  void operator()(const ProposalMsg& m) {
    m.block.encode(w);
    encode_opt(w, m.tc);
    w.fixed(m.signature.bytes);
  }
  void operator()(const Vote& m) { m.encode(w); }
  void operator()(const TimeoutMsg& m) {
    m.timeout.encode(w);
    encode_opt(w, m.last_tc);
  }
  void operator()(const SyncInfo& m) {
    m.high_qc.encode(w);
    encode_opt(w, m.last_tc);
  }
  void operator()(const SyncRequest& m) {
    w.fixed(m.block_id);
    w.u64(m.above_height);
  }
  void operator()(const SyncResponse& m) {
    w.vec(m.blocks, [](codec::Writer& ww, const Block& b) { b.encode(ww); });
  }
};

Result<Message> decode_body(codec::Reader& r, std::uint8_t tag) {
  switch (tag) {
    case 0: {
      ProposalMsg m;
      OL_TRY_ASSIGN(m.block, Block::decode(r));
      OL_TRY_ASSIGN(m.tc, decode_opt<TimeoutCert>(r));
      OL_TRY_ASSIGN(m.signature.bytes, r.fixed<64>());
      return Message(std::move(m));
    }
    case 1: {
      OL_TRY_ASSIGN(Vote v, Vote::decode(r));
      return Message(v);
    }
    case 2: {
      TimeoutMsg m;
      OL_TRY_ASSIGN(m.timeout, Timeout::decode(r));
      OL_TRY_ASSIGN(m.last_tc, decode_opt<TimeoutCert>(r));
      return Message(std::move(m));
    }
    case 3: {
      SyncInfo m;
      OL_TRY_ASSIGN(m.high_qc, QuorumCert::decode(r));
      OL_TRY_ASSIGN(m.last_tc, decode_opt<TimeoutCert>(r));
      return Message(std::move(m));
    }
    case 4: {
      SyncRequest m;
      OL_TRY_ASSIGN(m.block_id, r.fixed<32>());
      OL_TRY_ASSIGN(m.above_height, r.u64());
      return Message(m);
    }
    case 5: {
      SyncResponse m;
      OL_TRY_ASSIGN(m.blocks, r.vec<Block>(kMaxSyncBlocks, 100,
                                           [](codec::Reader& rr) { return Block::decode(rr); }));
      return Message(std::move(m));
    }
    default:
      return codec::Reader::unknown_tag("consensus message", tag);
  }
}

}  // namespace

const char* message_kind(const Message& m) {
  static constexpr const char* kNames[] = {"proposal",  "vote",         "timeout",
                                           "sync-info", "sync-request", "sync-response"};
  return kNames[m.index()];
}

Bytes encode_message(const Message& m) {
  codec::Writer w(256);
  w.u8(static_cast<std::uint8_t>(m.index()));
  std::visit(Encoder{w}, m);
  return w.take();
}

Result<Message> decode_message(ByteView data) {
  codec::Reader r(data);
  OL_TRY_ASSIGN(std::uint8_t tag, r.u8());
  OL_TRY_ASSIGN(Message m, decode_body(r, tag));
  OL_TRY(r.finish());
  return m;
}

}  // namespace ol::consensus
