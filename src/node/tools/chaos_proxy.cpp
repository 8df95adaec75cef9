#include "node/tools/chaos_proxy.h"

// Asio through the p2p layer's header first (coroutine set-up for GCC 12 and clang).
#include "p2p/asio.h"

#include <array>
#include <thread>

#include "node/init.h"

namespace ol::node::tools {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One proxied connection: the accepted socket and the one to the target.
struct Pipe : std::enable_shared_from_this<Pipe> {
  explicit Pipe(tcp::socket in) : a(std::move(in)), b(a.get_executor()) {}
  tcp::socket a, b;
  bool closed = false;
  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ec;
    a.close(ec);
    b.close(ec);
  }
};

p2p::Task<void> pump(std::shared_ptr<Pipe> p, tcp::socket& from, tcp::socket& to) {
  std::array<char, 16384> buf;
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n = co_await from.async_read_some(
        asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec || p->closed) break;
    co_await asio::async_write(to, asio::buffer(buf.data(), n),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec || p->closed) break;
  }
  p->close();
}

}  // namespace

struct LinkProxies::Impl : std::enable_shared_from_this<Impl> {
  struct Link {
    std::size_t from = 0, to = 0;
    std::uint16_t target = 0;
    std::unique_ptr<tcp::acceptor> acceptor;
    bool blocked = false;
    std::vector<std::weak_ptr<Pipe>> pipes;
  };
  asio::io_context io{1};
  std::vector<Link> links;  // index from * n + to (from == to unused)
  std::size_t n = 0;
  std::vector<std::uint16_t> ports;
  LinkProxies* owner = nullptr;
  std::thread thread;

  p2p::Task<void> accept_loop(Link& link) {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s =
          co_await link.acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !link.acceptor->is_open()) co_return;
      if (ec) continue;
      if (link.blocked) {
        ++owner->refused_;
        s.close(ec);
        continue;
      }
      auto pipe = std::make_shared<Pipe>(std::move(s));
      std::erase_if(link.pipes, [](const auto& w) { return w.expired(); });
      link.pipes.push_back(pipe);
      asio::co_spawn(io, connect_and_pump(pipe, link.target), asio::detached);
    }
  }

  static p2p::Task<void> connect_and_pump(std::shared_ptr<Pipe> pipe, std::uint16_t target) {
    boost::system::error_code ec;
    co_await pipe->b.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), target),
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec || pipe->closed) {
      pipe->close();
      co_return;
    }
    pipe->b.set_option(tcp::no_delay(true), ec);
    pipe->a.set_option(tcp::no_delay(true), ec);
    auto ex = pipe->a.get_executor();
    asio::co_spawn(ex, pump(pipe, pipe->a, pipe->b), asio::detached);
    asio::co_spawn(ex, pump(pipe, pipe->b, pipe->a), asio::detached);
  }

  void set_blocked(Link& l, bool blocked) {
    l.blocked = blocked;
    if (!blocked) return;
    for (auto& w : l.pipes) {
      if (auto p = w.lock(); p && !p->closed) {
        ++owner->cut_;
        p->close();
      }
    }
    l.pipes.clear();
  }
};

Result<std::unique_ptr<LinkProxies>> LinkProxies::start(std::vector<std::uint16_t> targets,
                                                        const std::vector<std::uint16_t>& avoid) {
  std::unique_ptr<LinkProxies> out(new LinkProxies());
  auto impl = std::make_shared<Impl>();
  impl->owner = out.get();
  impl->n = targets.size();
  const std::size_t count = impl->n * impl->n;
  impl->links.resize(count);
  std::string last_error = "no free port range";
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto base = find_free_port_range(count);
    if (!base) return base.error();
    bool clash = false;
    for (auto p : avoid) clash = clash || (p >= *base && p < *base + count);
    if (clash) continue;
    bool ok = true;
    for (std::size_t i = 0; i < impl->n && ok; ++i) {
      for (std::size_t j = 0; j < impl->n && ok; ++j) {
        auto& l = impl->links[i * impl->n + j];
        l.acceptor.reset();
        if (i == j) continue;
        l.from = i;
        l.to = j;
        l.target = targets[j];
        const auto port = static_cast<std::uint16_t>(*base + i * impl->n + j);
        boost::system::error_code ec;
        auto a = std::make_unique<tcp::acceptor>(impl->io);
        const tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
        a->open(ep.protocol(), ec);
        if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) a->bind(ep, ec);
        if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
          ok = false;
          last_error = "proxy port " + std::to_string(port) + ": " + ec.message();
          break;
        }
        l.acceptor = std::move(a);
      }
    }
    if (!ok) continue;
    impl->ports.resize(count);
    for (std::size_t k = 0; k < count; ++k) {
      impl->ports[k] = static_cast<std::uint16_t>(*base + k);
    }
    for (auto& l : impl->links) {
      if (l.acceptor) asio::co_spawn(impl->io, impl->accept_loop(l), asio::detached);
    }
    impl->thread = std::thread([impl] { impl->io.run(); });
    out->impl_ = std::move(impl);
    return out;
  }
  return make_error(Errc::io, "cannot set up the link proxies: " + last_error);
}

LinkProxies::~LinkProxies() {
  if (!impl_) return;
  auto impl = impl_;
  asio::post(impl->io, [impl] {
    for (auto& l : impl->links) {
      boost::system::error_code ec;
      if (l.acceptor) l.acceptor->close(ec);
      impl->set_blocked(l, true);
    }
    // With the acceptors and every pipe closed, all handlers finish and run() returns.
  });
  impl->thread.join();
}

std::uint16_t LinkProxies::port(std::size_t from, std::size_t to) const {
  return impl_->ports.at(from * impl_->n + to);
}

void LinkProxies::partition(const std::vector<bool>& side) {
  auto impl = impl_;
  asio::post(impl->io, [impl, side] {
    for (auto& l : impl->links) {
      if (!l.acceptor) continue;
      if (side.at(l.from) != side.at(l.to)) impl->set_blocked(l, true);
    }
  });
}

void LinkProxies::heal() {
  auto impl = impl_;
  asio::post(impl->io, [impl] {
    for (auto& l : impl->links) impl->set_blocked(l, false);
  });
}

}  // namespace ol::node::tools
