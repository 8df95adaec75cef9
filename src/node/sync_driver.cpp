#include "node/sync_driver.h"

#include <spdlog/spdlog.h>

#include "common/hex.h"
#include "common/thread_name.h"
#include "node/chain_store.h"

namespace ol::node {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

// ---- CheckpointTaker ----

CheckpointTaker::CheckpointTaker(storage::Store& store, sync::CheckpointConfig config)
    : checkpoints_(store, config), store_(store) {
  if (config.interval != 0) {
    writer_ = std::thread([this] { run(); });
    set_thread_name(writer_, "ol-checkpoint");
  }
}

CheckpointTaker::~CheckpointTaker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void CheckpointTaker::on_commit(const execution::Ledger& ledger, std::uint64_t height,
                                const Hash32& id) {
  const auto interval = checkpoints_.config().interval;
  if (interval == 0 || height == 0 || height % interval != 0) return;
  {
    std::lock_guard lock(mu_);
    if (busy_ || pending_) {
      spdlog::warn("checkpoint: skipping height {}: the previous one is still being written",
                   height);
      return;
    }
    busy_ = true;
  }
  const auto start = Clock::now();
  sync::StateCut cut = sync::cut_state(ledger, store_, height, id);
  spdlog::info("checkpoint: height {} cut in {:.1f} ms on the committing thread", height,
               ms_since(start));
  {
    std::lock_guard lock(mu_);
    pending_ = std::move(cut);
  }
  cv_.notify_all();
}

void CheckpointTaker::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !busy_ || stop_; });
}

void CheckpointTaker::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || pending_.has_value(); });
    if (!pending_) return;  // stopping with nothing left to write
    sync::StateCut cut = std::move(*pending_);
    pending_.reset();
    lock.unlock();
    const auto start = Clock::now();
    const std::uint64_t height = cut.height;
    auto built = sync::create_snapshot(cut, checkpoints_.config().chunk_bytes);
    cut.view.reset();  // let RocksDB drop the versions only this view kept
    const double build_ms = ms_since(start);
    std::size_t accounts = 0;
    if (built) {
      for (const auto& c : built->chunks) accounts += c.entries.size();
    }
    auto written = built ? checkpoints_.write(std::move(*built))
                         : Result<sync::SnapshotManifest>(built.error());
    if (written) {
      spdlog::info(
          "checkpoint: height {} ({} accounts, {} chunks) built in {:.0f} ms, written in "
          "{:.0f} ms off the committing thread",
          height, accounts, written->chunks.size(), build_ms, ms_since(start) - build_ms);
    } else {
      spdlog::error("checkpoint: height {} not written: {}", height, written.error().to_string());
    }
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

// ---- BlockExecutor ----

BlockExecutor::BlockExecutor(Context context) : ctx_(std::move(context)) {}

Status BlockExecutor::deliver(std::vector<sync::CertifiedBlock> blocks) {
  for (const auto& c : blocks) OL_TRY(execute(c));
  return {};
}

Status BlockExecutor::check_anchored_roots(const types::Block& block) const {
  // Every (block id, state root) the block anchors must be what this node executed at that
  // height. Heights older than the ledger's history (just after a state sync) cannot be judged.
  auto s = execution::verify_anchors(*ctx_.ledger, block);
  if (s || s.error().code == Errc::not_found) return {};
  return make_error(s.error().code,
                    "divergence: certified block " + std::to_string(block.height) +
                        " anchors execution this node does not share: " + s.error().message);
}

Status BlockExecutor::execute(const sync::CertifiedBlock& c) {
  const types::Block& block = c.block;
  const Hash32& id = c.qc.block_id;
  execution::Ledger& ledger = *ctx_.ledger;
  if (block.height != ledger.applied_height() + 1) {
    return make_error(Errc::state, "sync delivered height " + std::to_string(block.height) +
                                       " to a ledger at height " +
                                       std::to_string(ledger.applied_height()));
  }
  OL_TRY(check_anchored_roots(block));

  // Verify each transaction once; an invalid one is skipped exactly as Core::commit does.
  const std::vector<types::TxRef> txs =
      resolve_for_commit(block, ctx_.chain_id, ctx_.mempool, "sync");

  OL_TRY_ASSIGN(auto outcome, ledger.apply_block(
                                  execution::BlockInfo{block.height, block.timestamp_ms, id}, txs));
  // The same batch as Core::commit's (a replay keeps the receipt of the inclusion that
  // executed); the block body is written here even if the store already holds it.
  auto commit_batch = build_commit_batch(*ctx_.store, block, id, c.qc, /*block_stored=*/false,
                                         std::move(outcome.writes), outcome.receipts);
  OL_TRY(ctx_.store->write(commit_batch));

  // Durable.
  if (ctx_.mempool != nullptr && !txs.empty()) ctx_.mempool->remove_committed(txs);
  if (ctx_.metrics != nullptr) {
    ctx_.metrics->commits_total.fetch_add(1);
    ctx_.metrics->height.store(block.height);
    ctx_.metrics->txs_committed_total.fetch_add(txs.size());
  }
  ++blocks_;
  txs_ += txs.size();
  if (ctx_.on_commit) ctx_.on_commit(block.height, id, c.qc);
  return {};
}

}  // namespace ol::node
