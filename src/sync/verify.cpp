#include "sync/verify.h"

namespace ol::sync {

Result<std::vector<CertifiedBlock>> verify_certified_blocks(
    const TrustedBlock& trusted, const GetBlocks& request, const Blocks& response,
    std::size_t response_bytes, const crypto::ValidatorSet& set, const Hash32& genesis_id) {
  const auto& blocks = response.blocks;
  if (request.from_height != trusted.height + 1) {
    return make_error(Errc::invalid_argument, "request does not start above the trusted block");
  }
  if (blocks.size() > request.max_count) return make_error(Errc::verify, "more blocks than asked");
  // A peer below our height (its tip under `trusted`) can rightly answer with nothing.
  if (!blocks.empty() && trusted.height + blocks.size() > response.tip_height) {
    return make_error(Errc::verify, "blocks above the claimed tip");
  }
  const std::uint64_t available =
      response.tip_height > trusted.height ? response.tip_height - trusted.height : 0;
  const std::uint64_t expected = std::min<std::uint64_t>(request.max_count, available);
  if (blocks.size() < expected && response_bytes < kSoftResponseBytes) {
    return make_error(Errc::decode, "truncated batch: " + std::to_string(blocks.size()) + " of " +
                                        std::to_string(expected) + " blocks");
  }

  Hash32 parent = trusted.id;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const types::Block& b = blocks[i].block;
    const std::uint64_t height = trusted.height + 1 + i;
    if (b.height != height) return make_error(Errc::verify, "block height out of sequence");
    if (b.parent_id != parent) {
      return make_error(Errc::verify,
                        "block at height " + std::to_string(height) + " does not extend the chain");
    }
    OL_TRY(b.validate_shape());
    if (i > 0 && b.exec_height != blocks[i - 1].block.exec_height + b.exec_roots.size()) {
      return make_error(Errc::verify, "block at height " + std::to_string(height) +
                                          " does not continue its parent's anchored heights");
    }
    const Hash32 id = b.compute_id();
    const types::QuorumCert& qc = blocks[i].qc;
    if (qc.block_id != id || qc.round != b.round) {
      return make_error(Errc::verify, "QC does not certify block " + std::to_string(height));
    }
    if (qc.is_genesis()) return make_error(Errc::verify, "genesis QC for a non-genesis block");
    if (Status s = qc.verify(set, genesis_id); !s) return s.error();
    parent = id;
  }
  return blocks;
}

std::size_t committed_prefix(std::span<const CertifiedBlock> chain) {
  // The highest b_j with a certified direct child in the chain commits b_1 .. b_j.
  for (std::size_t j = chain.size(); j-- > 1;) {
    if (chain[j].block.round == chain[j - 1].block.round + 1) return j;
  }
  return 0;
}

Result<std::vector<CertifiedBlock>> verify_blocks(const TrustedBlock& trusted,
                                                  const GetBlocks& request, const Blocks& response,
                                                  std::size_t response_bytes,
                                                  const crypto::ValidatorSet& set,
                                                  const Hash32& genesis_id) {
  OL_TRY_ASSIGN(auto blocks, verify_certified_blocks(trusted, request, response, response_bytes,
                                                     set, genesis_id));
  blocks.resize(committed_prefix(blocks));
  return blocks;
}

}  // namespace ol::sync
