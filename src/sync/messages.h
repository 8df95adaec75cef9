// The block and state sync protocol, /openliquid/sync/1.0.0: one request and one response per
// yamux stream, each a frame of u32 LE length || canonical encoding (codec), the length checked
// against kMaxFrameBytes before anything is allocated.
//
//   GetBlocks{from_height, max_count}  -> Blocks{tip_height, [(block, QC certifying it)]}
//   GetSnapshotManifest{}              -> SnapshotOffer{optional (manifest, anchor)}
//   GetSnapshotChunk{height, index}    -> SnapshotChunkData{optional chunk}
//
// A server answers GetBlocks with its committed blocks from from_height on, in height order: as
// many as max_count (≤ kMaxBlocksPerRequest) and its tip allow, except that it stops after the
// block that takes the encoded response past kSoftResponseBytes. So a response with fewer blocks
// than min(max_count, tip_height - from_height + 1) that is smaller than kSoftResponseBytes is
// truncated — a fault the client holds against the peer.
#pragma once

#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "sync/snapshot.h"
#include "types/block.h"

namespace ol::sync {

inline constexpr std::string_view kProtocol = "/openliquid/sync/1.0.0";

inline constexpr std::size_t kMaxFrameBytes = 12u << 20;
inline constexpr std::size_t kSoftResponseBytes = 4u << 20;
inline constexpr std::uint32_t kMaxBlocksPerRequest = 512;

struct GetBlocks {
  std::uint64_t from_height = 0;
  std::uint32_t max_count = 0;
  bool operator==(const GetBlocks&) const = default;
};
struct GetSnapshotManifest {
  bool operator==(const GetSnapshotManifest&) const = default;
};
struct GetSnapshotChunk {
  std::uint64_t height = 0;
  std::uint32_t index = 0;
  bool operator==(const GetSnapshotChunk&) const = default;
};
/// Tags 0, 1, 2.
using Request = std::variant<GetBlocks, GetSnapshotManifest, GetSnapshotChunk>;

/// A committed block and a quorum certificate for it (the QC's block id and round are the
/// block's).
struct CertifiedBlock {
  types::Block block;
  types::QuorumCert qc;
  bool operator==(const CertifiedBlock&) const = default;
};

struct Blocks {
  std::uint64_t tip_height = 0;  // the server's committed tip
  std::vector<CertifiedBlock> blocks;
  bool operator==(const Blocks&) const = default;
};
struct SnapshotOffer {
  struct Offer {
    SnapshotManifest manifest;
    SnapshotAnchor anchor;
    bool operator==(const Offer&) const = default;
  };
  std::optional<Offer> offer;  // absent: no verifiable snapshot here
  bool operator==(const SnapshotOffer&) const = default;
};
struct SnapshotChunkData {
  std::optional<SnapshotChunk> chunk;  // absent: no such checkpoint or chunk
  bool operator==(const SnapshotChunkData&) const = default;
};
/// Tags 0, 1, 2.
using Response = std::variant<Blocks, SnapshotOffer, SnapshotChunkData>;

/// Gossiped on openliquid/qcs/1.0.0 by validators as they commit: block `qc.block_id` at
/// `height` is committed. A hint for full nodes to block-sync now rather than at their next
/// poll. The QC proves the block is certified; the height is only claimed (block sync verifies
/// everything it fetches, so a lying height costs one sync request that finds nothing).
struct CommitNotice {
  std::uint64_t height = 0;
  types::QuorumCert qc;

  void encode(codec::Writer& w) const;
  static Result<CommitNotice> decode(codec::Reader& r);
  bool operator==(const CommitNotice&) const = default;
};

/// Ok iff `notice` names a height above 0 and its QC is a valid quorum of `set` for a block
/// other than genesis.
Status verify_commit_notice(const CommitNotice& notice, const crypto::ValidatorSet& set,
                            const Hash32& genesis_id);

void encode_request(codec::Writer& w, const Request& r);
Result<Request> decode_request(codec::Reader& r);
void encode_response(codec::Writer& w, const Response& r);
Result<Response> decode_response(codec::Reader& r);

/// u32 LE length || body.
Bytes frame(ByteView body);
/// Whole-buffer decoders (every byte used).
Result<Request> decode_request_exact(ByteView body);
Result<Response> decode_response_exact(ByteView body);

}  // namespace ol::sync
