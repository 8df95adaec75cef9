// verify_blocks as a specification: what a syncing node accepts from one Blocks response.
#include <gtest/gtest.h>

#include "support/certified_chain.h"
#include "sync/messages.h"
#include "sync/verify.h"

namespace ol::sync {
namespace {

using testing::ChainBuilder;
using testing::TestValidators;

class SyncVerify : public ::testing::Test {
 protected:
  SyncVerify() : chain(validators, execution::Genesis{testing::kChainId, {}, {}}) {
    for (int i = 0; i < 10; ++i) blocks.push_back(chain.next({}));
  }
  Result<std::vector<CertifiedBlock>> check(const Blocks& response, std::uint32_t max = 10,
                                            std::size_t bytes = 1000) {
    return verify_blocks(TrustedBlock{0, testing::genesis_id()}, GetBlocks{1, max}, response, bytes,
                         validators.set, testing::genesis_id());
  }
  Blocks all() const { return Blocks{10, blocks}; }

  TestValidators validators = TestValidators::make(4);
  ChainBuilder chain;
  std::vector<CertifiedBlock> blocks;
};

TEST_F(SyncVerify, AcceptsWhatTheTwoChainRuleProvesCommitted) {
  auto ok = check(all());
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  // Block 10 is certified but has no certified child in the batch: not provably committed.
  ASSERT_EQ(ok->size(), 9u);
  EXPECT_EQ(ok->back().block.height, 9u);
  // A peer at our height has nothing to give, and that is not a fault.
  auto none = verify_blocks(TrustedBlock{10, blocks[9].qc.block_id}, GetBlocks{11, 10},
                            Blocks{10, {}}, 20, validators.set, testing::genesis_id());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // Nor is a peer below our height (a validator that restarted behind us, say). Until session
  // 20 this was "blocks above the claimed tip", and the honest peer was dropped for the run.
  auto behind = verify_blocks(TrustedBlock{10, blocks[9].qc.block_id}, GetBlocks{11, 10},
                              Blocks{8, {}}, 20, validators.set, testing::genesis_id());
  ASSERT_TRUE(behind.ok()) << behind.error().to_string();
  EXPECT_TRUE(behind->empty());
}

TEST_F(SyncVerify, ARoundGapDefersCommitToTheNextDirectChild) {
  // Blocks 1..3 in rounds 1..3, block 4 in round 6 (after timeouts), block 5 in round 7.
  ChainBuilder gapped(validators, execution::Genesis{testing::kChainId, {}, {}});
  std::vector<CertifiedBlock> bs{gapped.next({}), gapped.next({}), gapped.next({}),
                                 gapped.next({}, 2)};
  auto r = check(Blocks{4, bs}, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);  // block 3's child is not in the next round: 3 is not proven
  bs.push_back(gapped.next({}));
  r = check(Blocks{5, bs}, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 4u);  // block 5 (round 7) is block 4's (round 6) direct child
}

TEST_F(SyncVerify, RejectsForgedQcsBrokenChainsAndTruncation) {
  const auto outsiders = TestValidators::make(4, 200);
  auto rejected = [&](auto mutate, Errc code = Errc::verify) {
    Blocks b = all();
    mutate(b);
    auto r = check(b);
    return !r.ok() && r.error().code == code;
  };
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks[4].qc = outsiders.certify(b.blocks[4].block); }));
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks[4].qc = b.blocks[3].qc; }));
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks[4].qc.round += 1; }));
  EXPECT_TRUE(rejected([&](Blocks& b) {  // one signature short of a quorum
    std::vector<std::pair<std::size_t, crypto::Ed25519Signature>> parts;
    const auto& blk = b.blocks[4].block;
    for (std::size_t i = 0; i + 1 < validators.set.quorum(); ++i) {
      parts.emplace_back(i,
                         validators.keys[i].sign(types::vote_digest(blk.compute_id(), blk.round)));
    }
    b.blocks[4].qc.signature = *crypto::QuorumSignature::from_parts(4, parts);
  }));
  EXPECT_TRUE(rejected([&](Blocks& b) {  // the genesis QC does not certify real blocks
    b.blocks[0].qc = types::QuorumCert::genesis(b.blocks[0].qc.block_id);
  }));
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks[2].block.timestamp_ms += 1; }));  // wrong hash
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks[2].block.parent_id[0] ^= 1; }));
  EXPECT_TRUE(rejected([&](Blocks& b) { std::swap(b.blocks[2], b.blocks[3]); }));
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks[0] = b.blocks[1]; }));  // skips a height
  EXPECT_TRUE(rejected([&](Blocks& b) { b.tip_height = 5; }));  // blocks above the claimed tip
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks.resize(6); }, Errc::decode));  // truncated
  EXPECT_TRUE(rejected([&](Blocks& b) { b.blocks.clear(); }, Errc::decode));
  // Short, but the server's byte budget explains it: fine.
  Blocks short_batch = all();
  short_batch.blocks.resize(6);
  auto r = check(short_batch, 10, kSoftResponseBytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 5u);
  // More than asked.
  EXPECT_FALSE(check(all(), 9).ok());
}

// The commit notices validators gossip for full nodes: bounded decoding and a QC check.
TEST_F(SyncVerify, ACommitNoticeDecodesOnlyWholeAndVerifiesOnlyWithAQuorum) {
  const CommitNotice notice{4, blocks[3].qc};
  const Bytes wire = codec::encode(notice);
  auto back = codec::decode_exact<CommitNotice>(wire);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, notice);
  EXPECT_TRUE(verify_commit_notice(*back, validators.set, testing::genesis_id()).ok());

  EXPECT_FALSE(codec::decode_exact<CommitNotice>(ByteView(wire).first(wire.size() - 1)).ok());
  Bytes longer = wire;
  longer.push_back(0);
  EXPECT_FALSE(codec::decode_exact<CommitNotice>(longer).ok());
  EXPECT_FALSE(codec::decode_exact<CommitNotice>(Bytes{}).ok());

  const auto outsiders = TestValidators::make(4, 100);
  const CommitNotice forged{4, outsiders.certify(blocks[3].block)};
  EXPECT_FALSE(verify_commit_notice(forged, validators.set, testing::genesis_id()).ok());
  CommitNotice tampered = notice;
  tampered.qc.round += 1;  // the signatures no longer match
  EXPECT_FALSE(verify_commit_notice(tampered, validators.set, testing::genesis_id()).ok());
  const CommitNotice genesis{0, types::QuorumCert::genesis(testing::genesis_id())};
  EXPECT_FALSE(verify_commit_notice(genesis, validators.set, testing::genesis_id()).ok());
}

}  // namespace
}  // namespace ol::sync
