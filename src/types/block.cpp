#include "types/block.h"

#include "crypto/hash.h"

namespace ol::types {
namespace {

void encode_payload(codec::Writer& w, const Payload& p) {
  w.u8(static_cast<std::uint8_t>(p.index()));
  if (const auto* txs = std::get_if<std::vector<Transaction>>(&p)) {
    w.vec(*txs, [](codec::Writer& ww, const Transaction& tx) { tx.encode(ww); });
  } else {
    w.vec(std::get<std::vector<Command>>(p),
          [](codec::Writer& ww, const Command& c) { ww.bytes(c); });
  }
}

Result<Payload> decode_payload(codec::Reader& r) {
  OL_TRY_ASSIGN(std::uint8_t tag, r.u8());
  if (tag == 0) {
    OL_TRY_ASSIGN(auto txs,
                  r.vec<Transaction>(Block::kMaxTransactions, 8 + 8 + 1 + 65,
                                     [](codec::Reader& rr) { return Transaction::decode(rr); }));
    return Payload(std::move(txs));
  }
  if (tag == 1) {
    OL_TRY_ASSIGN(auto cmds, r.vec<Command>(Block::kMaxCommands, 4, [](codec::Reader& rr) {
      return rr.bytes(Block::kMaxCommandSize);
    }));
    return Payload(std::move(cmds));
  }
  return codec::Reader::unknown_tag("block payload", tag);
}

void encode_header(codec::Writer& w, const Block& b) {
  w.u64(b.round);
  w.u64(b.height);
  w.fixed(b.parent_id);
  b.justify.encode(w);
  w.u32(b.proposer);
  w.u64(b.timestamp_ms);
  w.u64(b.exec_height);
  w.vec(b.exec_roots, [](codec::Writer& ww, const Hash32& h) { ww.fixed(h); });
}

}  // namespace

const Block& Block::genesis() {
  static const Block g{0, 0, Hash32{}, QuorumCert::genesis(Hash32{}),  0,
                       0, 0, {},       Payload(std::vector<Command>{})};
  return g;
}

Hash32 Block::payload_digest() const {
  codec::Writer w;
  encode_payload(w, payload);
  return crypto::tagged_hash("openliquid/payload/v1", w.data());
}

Hash32 Block::compute_id() const {
  codec::Writer w(256);
  encode_header(w, *this);
  w.fixed(payload_digest());
  return crypto::tagged_hash("openliquid/block/v1", w.data());
}

std::size_t Block::payload_size() const {
  return std::visit([](const auto& v) { return v.size(); }, payload);
}

Status Block::validate_shape() const {
  if (round == 0) {
    if (*this != genesis()) return make_error(Errc::verify, "round-0 block is not genesis");
    return {};
  }
  if (height == 0) return make_error(Errc::verify, "non-genesis block at height 0");
  if (justify.block_id != parent_id)
    return make_error(Errc::verify, "justify QC does not certify the parent");
  if (justify.round >= round)
    return make_error(Errc::verify, "justify QC round not below block round");
  if (exec_roots.size() > kMaxExecRoots)
    return make_error(Errc::verify, "block anchors more than 64 state roots");
  if (exec_height >= height) return make_error(Errc::verify, "block anchors a height not below it");
  if (exec_roots.size() > exec_height)
    return make_error(Errc::verify, "block anchors a state root below height 1");
  return {};
}

void Block::encode(codec::Writer& w) const {
  encode_header(w, *this);
  encode_payload(w, payload);
}

Result<Block> Block::decode(codec::Reader& r) {
  Block b;
  OL_TRY_ASSIGN(b.round, r.u64());
  OL_TRY_ASSIGN(b.height, r.u64());
  OL_TRY_ASSIGN(b.parent_id, r.fixed<32>());
  OL_TRY_ASSIGN(b.justify, QuorumCert::decode(r));
  OL_TRY_ASSIGN(b.proposer, r.u32());
  OL_TRY_ASSIGN(b.timestamp_ms, r.u64());
  OL_TRY_ASSIGN(b.exec_height, r.u64());
  OL_TRY_ASSIGN(b.exec_roots, r.vec<Hash32>(Block::kMaxExecRoots, 32,
                                            [](codec::Reader& rr) { return rr.fixed<32>(); }));
  OL_TRY_ASSIGN(b.payload, decode_payload(r));
  return b;
}

Hash32 exec_commitment(const Hash32& block_id, const Hash32& state_root) {
  codec::Writer w(64);
  w.fixed(block_id);
  w.fixed(state_root);
  return crypto::tagged_hash("openliquid/exec/v1", w.data());
}

Hash32 proposal_digest(const Hash32& block_id) {
  return crypto::tagged_hash("openliquid/proposal/v1", block_id);
}

}  // namespace ol::types
