#include "sync/messages.h"

namespace ol::sync {
namespace {

// A block is at least its header; a QC at least its id and round.
constexpr std::size_t kMinCertifiedBlockBytes = 8 + 8 + 32 + 40 + 4 + 8 + 32 + 1 + 4 + 40;

void encode_certified(codec::Writer& w, const CertifiedBlock& c) {
  c.block.encode(w);
  c.qc.encode(w);
}

Result<CertifiedBlock> decode_certified(codec::Reader& r) {
  CertifiedBlock c;
  OL_TRY_ASSIGN(c.block, types::Block::decode(r));
  OL_TRY_ASSIGN(c.qc, types::QuorumCert::decode(r));
  return c;
}

}  // namespace

void CommitNotice::encode(codec::Writer& w) const {
  w.u64(height);
  qc.encode(w);
}

Result<CommitNotice> CommitNotice::decode(codec::Reader& r) {
  CommitNotice n;
  OL_TRY_ASSIGN(n.height, r.u64());
  OL_TRY_ASSIGN(n.qc, types::QuorumCert::decode(r));
  return n;
}

Status verify_commit_notice(const CommitNotice& notice, const crypto::ValidatorSet& set,
                            const Hash32& genesis_id) {
  if (notice.height == 0 || notice.qc.round == 0) {
    return make_error(Errc::verify, "commit notice for genesis");
  }
  return notice.qc.verify(set, genesis_id);
}

void encode_request(codec::Writer& w, const Request& r) {
  w.u8(static_cast<std::uint8_t>(r.index()));
  if (const auto* g = std::get_if<GetBlocks>(&r)) {
    w.u64(g->from_height);
    w.u32(g->max_count);
  } else if (const auto* c = std::get_if<GetSnapshotChunk>(&r)) {
    w.u64(c->height);
    w.u32(c->index);
  }
}

Result<Request> decode_request(codec::Reader& r) {
  OL_TRY_ASSIGN(std::uint8_t tag, r.u8());
  switch (tag) {
    case 0: {
      GetBlocks g;
      OL_TRY_ASSIGN(g.from_height, r.u64());
      OL_TRY_ASSIGN(g.max_count, r.u32());
      if (g.max_count == 0 || g.max_count > kMaxBlocksPerRequest) {
        return codec::Reader::over_bound("GetBlocks max_count", g.max_count, kMaxBlocksPerRequest);
      }
      return Request(g);
    }
    case 1:
      return Request(GetSnapshotManifest{});
    case 2: {
      GetSnapshotChunk c;
      OL_TRY_ASSIGN(c.height, r.u64());
      OL_TRY_ASSIGN(c.index, r.u32());
      return Request(c);
    }
  }
  return codec::Reader::unknown_tag("sync request", tag);
}

void encode_response(codec::Writer& w, const Response& r) {
  w.u8(static_cast<std::uint8_t>(r.index()));
  if (const auto* b = std::get_if<Blocks>(&r)) {
    w.u64(b->tip_height);
    w.vec(b->blocks, encode_certified);
  } else if (const auto* o = std::get_if<SnapshotOffer>(&r)) {
    w.optional(o->offer, [](codec::Writer& ww, const SnapshotOffer::Offer& off) {
      off.manifest.encode(ww);
      off.anchor.encode(ww);
    });
  } else {
    w.optional(std::get<SnapshotChunkData>(r).chunk,
               [](codec::Writer& ww, const SnapshotChunk& c) { c.encode(ww); });
  }
}

// Each case decodes into the alternative constructed in place in the returned Result (and
// decode_response_exact returns that Result itself): moving a whole Response variant instead made
// GCC 12 report its other alternatives' members as "maybe uninitialized".
Result<Response> decode_response(codec::Reader& r) {
  OL_TRY_ASSIGN(std::uint8_t tag, r.u8());
  switch (tag) {
    case 0: {
      Result<Response> out(Response(std::in_place_type<Blocks>));
      auto& b = std::get<Blocks>(*out);
      OL_TRY_ASSIGN(b.tip_height, r.u64());
      OL_TRY_ASSIGN(b.blocks, r.vec<CertifiedBlock>(kMaxBlocksPerRequest, kMinCertifiedBlockBytes,
                                                    decode_certified));
      return out;
    }
    case 1: {
      Result<Response> out(Response(std::in_place_type<SnapshotOffer>));
      auto& o = std::get<SnapshotOffer>(*out);
      OL_TRY_ASSIGN(o.offer, r.optional<SnapshotOffer::Offer>(
                                 [](codec::Reader& rr) -> Result<SnapshotOffer::Offer> {
                                   SnapshotOffer::Offer off;
                                   OL_TRY_ASSIGN(off.manifest, SnapshotManifest::decode(rr));
                                   OL_TRY_ASSIGN(off.anchor, SnapshotAnchor::decode(rr));
                                   return off;
                                 }));
      return out;
    }
    case 2: {
      Result<Response> out(Response(std::in_place_type<SnapshotChunkData>));
      auto& d = std::get<SnapshotChunkData>(*out);
      OL_TRY_ASSIGN(d.chunk, r.optional<SnapshotChunk>(
                                 [](codec::Reader& rr) { return SnapshotChunk::decode(rr); }));
      return out;
    }
  }
  return codec::Reader::unknown_tag("sync response", tag);
}

Bytes frame(ByteView body) {
  codec::Writer w(4 + body.size());
  w.u32(static_cast<std::uint32_t>(body.size()));
  w.fixed(body);
  return w.take();
}

Result<Request> decode_request_exact(ByteView body) {
  codec::Reader r(body);
  OL_TRY_ASSIGN(Request req, decode_request(r));
  OL_TRY(r.finish());
  return req;
}

Result<Response> decode_response_exact(ByteView body) {
  codec::Reader r(body);
  auto resp = decode_response(r);
  if (!resp) return resp;
  OL_TRY(r.finish());
  return resp;
}

}  // namespace ol::sync
