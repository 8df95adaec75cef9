// StateSync: bootstraps an empty node from the newest snapshot its peers can prove.
//
//   1. Ask every peer for its snapshot offer; keep the offers that verify_manifest accepts
//      against the validator set (peers with invalid offers are dropped).
//   2. Take the highest verified height; fetch its chunks one by one from the peers that offered
//      that same manifest, rotating through them; verify each chunk on arrival (verify_chunk)
//      and write it into the store (execution::StateInstall). A peer that sends a bad chunk, a
//      missing one or nothing in time is dropped and the chunk is asked of the next.
//   3. Finish the install (root, height, genesis marker, synced).
// The node then opens its Ledger on the store (which re-checks the root) and block-syncs from
// TrustedBlock{manifest.height, manifest.block_id}.
#pragma once

#include "execution/genesis.h"
#include "sync/block_sync.h"

namespace ol::sync {

struct StateSyncResult {
  std::uint64_t height = 0;
  Hash32 block_id{};
  Hash32 state_root{};
  SnapshotAnchor anchor;  // block height + 1 and its QC: the proof the root was checked against
  std::uint64_t accounts = 0;
  std::uint32_t chunks = 0;
  std::vector<DroppedPeer> dropped;

  TrustedBlock trusted() const { return {height, block_id}; }
};

struct StateSyncConfig {
  std::chrono::milliseconds request_timeout{30'000};
};

/// Runs the steps above into `store`, which must hold no state. Errors: no peer offered a
/// verifiable snapshot (not_found), every peer holding it was dropped before the last chunk
/// (not_found), or the store failed. Run on the Host's io thread.
p2p::Task<Result<StateSyncResult>> state_sync(p2p::Host& host, std::vector<p2p::PeerId> peers,
                                              const crypto::ValidatorSet& set,
                                              const Hash32& genesis_id, storage::Store& store,
                                              const execution::Genesis& genesis,
                                              StateSyncConfig config = {});

}  // namespace ol::sync
