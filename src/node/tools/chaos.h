// `openliquid chaos`: a local network of validator processes under a signed load while a seeded
// script SIGKILLs and restarts random validators (never more than f down at once) and cuts the
// network into partitions that heal; afterwards a checker reads every node's store and fails on
// any divergence, any lost committed transaction or any double-signed round.
//
// Partitions need no node support: the tool writes each validator's genesis.json so that its
// peers' addresses are TCP proxies run by the tool (one per directed validator link). Validators
// dial each other only at the genesis addresses (discovery never dials a validator; init writes
// no bootstrap peers), so every validator-to-validator byte crosses a proxy, and a partition
// closes the proxied connections across the cut and refuses new ones until it heals.
//
// The checker's pieces are pure functions over plain data so they are unit-tested with synthetic
// chains, receipts and journals; check_network() feeds them from the stores.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "node/chain_store.h"
#include "node/genesis.h"

namespace ol::node::tools {

struct ChaosOptions {
  std::size_t validators = 4;
  double duration_s = 60;  // of chaos (load, kills, partitions); settling and checking follow
  std::uint64_t seed = 0;  // 0: a random seed (printed, so a run can be repeated)
  double rate = 50;        // signed transfers per second
  std::size_t accounts = 16;
  std::string dir;    // empty: a temporary directory (removed after a clean run unless keep)
  bool keep = false;  // keep the directory even after a clean run
  bool kills = true;
  bool partitions = true;
  double settle_timeout_s = 180;  // for every validator to be up and caught up after the chaos
  double status_every_s = 5;
  std::string check_dir;  // only check a stopped network kept by an earlier run (no RPC record)
};

Status validate(const ChaosOptions& o);
/// Runs the whole thing; prints events, a status line now and then, the violations and the
/// summary. Returns the exit status: 0 only with zero violations. With check_dir set, only runs
/// check_network on that stopped network (what clients were told is not known then).
int run_chaos(const ChaosOptions& opts);

// ---- the checker ----

struct Violation {
  std::string kind;  // "divergence", "lost-tx", "double-sign", "state", "crash", "liveness", ...
  std::string detail;
};

/// One node's committed chain as its store holds it: ids[h - 1] is the block id at height h.
struct ChainView {
  std::string node;
  std::vector<Hash32> ids;
};

/// Every pair of chains agrees at every common height; reports each node's first divergence
/// from the longest chain (one violation per diverging node).
std::vector<Violation> check_chains_agree(const std::vector<ChainView>& chains);

/// What clients were told over RPC while the run went on: the block id at each height and, for
/// each transaction, the first height whose block carried it.
struct ObservedCommits {
  std::map<std::uint64_t, Hash32> blocks;
  std::map<Hash32, std::uint64_t> txs;
};

/// A node's transaction receipts (load_tx_record on its store) and its committed height.
struct TxView {
  std::string node;
  std::uint64_t height = 0;
  std::function<Result<std::optional<TxRecord>>(const Hash32&)> lookup;
};

/// Every block reported committed is the one each store holds at that height, and every
/// transaction reported committed is committed in every store at the same height with a
/// successful outcome (the load only sends valid transfers). A store whose chain ends below a
/// reported height has lost committed blocks.
std::vector<Violation> check_observed(const ObservedCommits& observed,
                                      const std::vector<ChainView>& chains,
                                      const std::vector<TxView>& nodes);

/// One node's final state: the ledger's applied height and root.
struct StateView {
  std::string node;
  std::uint64_t height = 0;
  Hash32 root{};
};

/// Nodes at equal heights have equal roots, and each root equals the root of re-executing the
/// agreed chain from genesis to that height (`replayed[h]` = root after height h; index 0 =
/// genesis; heights beyond it are not compared).
std::vector<Violation> check_state_roots(const std::vector<StateView>& states,
                                         const std::vector<Hash32>& replayed);

/// A validator's signing journal (`vote <round> <block id hex>`, `timeout <round> <high qc
/// round>`, `proposal <round> <block id hex>`, one per line). Votes for two different block ids
/// in one round are a double-signed round (a violation, "double-sign"); the same line twice is a
/// resend. Two different proposals in one round are a violation too ("double-proposal", counted
/// in `double_proposals`): a leader signs at most one proposal per round, across restarts
/// (consensus::SafetyData::last_proposed_round). A torn last line (SIGKILL mid-append: never sent)
/// is ignored; other unreadable lines are violations.
struct JournalSummary {
  std::uint64_t votes = 0, timeouts = 0, proposals = 0;
  std::uint64_t double_proposals = 0;  // also among `violations`
  std::vector<Violation> violations;
};
JournalSummary check_signing_journal(const std::string& node, std::string_view text);

/// The whole check of a stopped network in `dir` (node<i>/ homes as init wrote them): chains,
/// observed commits, re-execution from genesis (also against each node's receipts and every
/// execution root a block anchors: Block::exec_roots), final state roots and signing journals.
/// Opens each store itself (every node must be stopped).
struct NetworkCheck {
  std::vector<Violation> violations;
  std::uint64_t double_proposals = 0;  // rounds with two proposals (also among `violations`)
  std::vector<std::uint64_t> heights;  // each node's committed height
  std::uint64_t replayed_height = 0;
  std::uint64_t replayed_txs = 0;
  std::uint64_t anchored_height = 0;  // highest height whose exec root a block anchors
  std::uint64_t journal_votes = 0;
  std::size_t journals = 0;  // validators whose journal was found
  std::uint64_t observed_txs_checked = 0;
};
Result<NetworkCheck> check_network(const std::filesystem::path& dir, std::size_t validators,
                                   const Genesis& genesis, const ObservedCommits& observed);

}  // namespace ol::node::tools
