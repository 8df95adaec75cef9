#include "node/command_pool.h"

#include <algorithm>
#include <cstring>

namespace ol::node {
namespace {

void put_be(Bytes& out, std::uint64_t v, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

}  // namespace

std::size_t CommandIdHash::operator()(const CommandId& id) const {
  // Ids are client-chosen (client id || sequence number), not random: mix both halves.
  std::uint64_t a, b;
  std::memcpy(&a, id.data(), 8);
  std::memcpy(&b, id.data() + 8, 8);
  return static_cast<std::size_t>((a * 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull) ^
                                  (b >> 29));
}

CommandId command_id(ByteView command) {
  CommandId id{};
  std::memcpy(id.data(), command.data(), std::min(command.size(), id.size()));
  return id;
}

bool CommandPool::add(ByteView data, std::size_t size) {
  if (size == 0 || data.size() % size != 0) return false;
  const std::size_t n = data.size() / size;
  {
    std::lock_guard lock(mu_);
    if (order_.size() + n > max_commands_ || bytes_ + data.size() > max_bytes_) return false;
    for (std::size_t i = 0; i < n; ++i) {
      ByteView cmd = data.subspan(i * size, size);
      const CommandId id = command_id(cmd);
      if (by_id_.contains(id)) continue;
      order_.push_back(to_bytes(cmd));
      by_id_.emplace(id, std::prev(order_.end()));
      bytes_ += size;
    }
  }
  if (wake_ != nullptr) wake_->notify();
  return true;
}

std::vector<Bytes> CommandPool::take(std::size_t max_count, std::size_t max_bytes,
                                     const CommandIdSet& exclude) const {
  std::lock_guard lock(mu_);
  std::vector<Bytes> out;
  std::size_t bytes = 0;
  for (const auto& cmd : order_) {
    if (out.size() >= max_count || bytes + cmd.size() > max_bytes) break;
    if (!exclude.empty() && exclude.contains(command_id(cmd))) continue;
    bytes += cmd.size();
    out.push_back(cmd);
  }
  return out;
}

void CommandPool::remove(std::span<const Bytes> committed) {
  std::lock_guard lock(mu_);
  for (const auto& cmd : committed) {
    auto it = by_id_.find(command_id(cmd));
    if (it == by_id_.end()) continue;
    bytes_ -= it->second->size();
    order_.erase(it->second);
    by_id_.erase(it);
  }
}

std::size_t CommandPool::size() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

void BenchCommitLog::record(std::uint64_t height, std::uint64_t commit_ms,
                            std::span<const Bytes> commands) {
  Entry e{height, commit_ms, {}};
  e.ids.reserve(commands.size());
  for (const auto& c : commands) e.ids.push_back(command_id(c));
  std::lock_guard lock(mu_);
  entries_.push_back(std::move(e));
  while (entries_.size() > max_blocks_) entries_.pop_front();
}

Bytes BenchCommitLog::encode_after(std::uint64_t after, std::size_t max_bytes) const {
  std::lock_guard lock(mu_);
  Bytes out;
  auto it = std::upper_bound(entries_.begin(), entries_.end(), after,
                             [](std::uint64_t h, const Entry& e) { return h < e.height; });
  for (; it != entries_.end() && out.size() < max_bytes; ++it) {
    put_be(out, it->height, 8);
    put_be(out, it->commit_ms, 8);
    put_be(out, it->ids.size(), 4);
    for (const auto& id : it->ids) out.insert(out.end(), id.begin(), id.end());
  }
  return out;
}

std::uint64_t BenchCommitLog::last_height() const {
  std::lock_guard lock(mu_);
  return entries_.empty() ? 0 : entries_.back().height;
}

}  // namespace ol::node
