// The chaos run's network cuts: one TCP proxy per directed validator link (i dials j through
// port(i, j)), run on a thread of their own so they forward while the caller blocks. A partition
// closes every proxied connection that crosses the cut and refuses new ones until heal().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace ol::node::tools {

class LinkProxies {
 public:
  /// Listens on 127.0.0.1 for every ordered pair (i, j), i != j, forwarding to 127.0.0.1:
  /// targets[j]. Ports come from find_free_port_range and avoid `avoid` (ports handed out but
  /// not bound yet).
  static Result<std::unique_ptr<LinkProxies>> start(std::vector<std::uint16_t> targets,
                                                    const std::vector<std::uint16_t>& avoid);
  ~LinkProxies();  // closes everything and joins the thread
  LinkProxies(const LinkProxies&) = delete;
  LinkProxies& operator=(const LinkProxies&) = delete;

  std::uint16_t port(std::size_t from, std::size_t to) const;
  /// Cuts every link between a node with side[i] and one without (both directions).
  void partition(const std::vector<bool>& side);
  /// Lets every link through again.
  void heal();

  std::uint64_t connections() const { return connections_; }
  std::uint64_t refused() const { return refused_; }
  std::uint64_t cut() const { return cut_; }

 private:
  struct Impl;
  LinkProxies() = default;
  std::shared_ptr<Impl> impl_;
  std::atomic<std::uint64_t> connections_{0}, refused_{0}, cut_{0};
};

}  // namespace ol::node::tools
