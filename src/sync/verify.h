// What a syncing node accepts: the pure check of a Blocks response, apart from any networking.
#pragma once

#include <span>

#include "crypto/validator_set.h"
#include "sync/messages.h"

namespace ol::sync {

/// The last block this node knows to be committed (its own tip, or a verified snapshot's block).
struct TrustedBlock {
  std::uint64_t height = 0;
  Hash32 id{};
  bool operator==(const TrustedBlock&) const = default;
};

/// Checks `response` (encoded in `response_bytes` bytes) to `request` =
/// GetBlocks{trusted.height + 1, n} and returns the blocks it proves committed, in height order
/// (possibly none). An error means the peer misbehaved (Errc::verify), or sent a truncated batch
/// (Errc::decode); nothing from it is accepted then.
///
/// Rules, for blocks b_1 .. b_k of the response:
///   - shape: heights trusted.height + 1, + 2, ... ; b_1.parent_id = trusted.id and
///     b_{i+1}.parent_id = id(b_i); each block passes Block::validate_shape; k ≤ n;
///     tip_height ≥ the last height;
///   - certified: every b_i comes with a QC for id(b_i) in round b_i.round that a quorum of
///     `set` signed (sync never accepts an uncertified block);
///   - complete: fewer than min(n, tip_height - trusted.height) blocks only in a response of at
///     least kSoftResponseBytes (the server's byte budget); otherwise the batch is truncated;
///   - committed (two-chain rule, as consensus commits): b_i is committed if some b_j (j > i)
///     has a certified direct child b_{j+1} with b_{j+1}.round = b_j.round + 1; so the result
///     is b_1 .. b_j for the largest such j. A certified block is not enough on its own: a fork
///     can be certified and never commit. Blocks above b_j are left for a later request.
/// Every rule of verify_blocks but the last: all the response's blocks, certified and chained from
/// `trusted`, whether or not they are proven committed. `trusted` may then be the last of such
/// blocks from an earlier response (BlockSync keeps them until a later block proves them).
Result<std::vector<CertifiedBlock>> verify_certified_blocks(
    const TrustedBlock& trusted, const GetBlocks& request, const Blocks& response,
    std::size_t response_bytes, const crypto::ValidatorSet& set, const Hash32& genesis_id);

/// How many blocks at the start of `chain` (certified blocks of consecutive heights, each the
/// parent of the next) the two-chain rule proves committed: j for the largest j whose b_j has
/// its direct child b_{j+1} (round b_j.round + 1) in the chain, else 0.
std::size_t committed_prefix(std::span<const CertifiedBlock> chain);

Result<std::vector<CertifiedBlock>> verify_blocks(const TrustedBlock& trusted,
                                                  const GetBlocks& request, const Blocks& response,
                                                  std::size_t response_bytes,
                                                  const crypto::ValidatorSet& set,
                                                  const Hash32& genesis_id);

}  // namespace ol::sync
