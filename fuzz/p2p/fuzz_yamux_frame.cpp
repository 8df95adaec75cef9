// yamux: header decoding, and a whole Session reading hostile frames from a loopback socket
// (the channel stays unencrypted, so the bytes reach the frame decoder as written).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "p2p/yamux.h"

using namespace ol;
using namespace ol::p2p;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ByteView in(data, size);
  for (std::size_t off = 0; off + yamux::kHeaderSize <= in.size(); off += yamux::kHeaderSize) {
    auto h = yamux::decode_header(in.subspan(off, yamux::kHeaderSize));
    if (h) {
      std::uint8_t back[yamux::kHeaderSize];
      yamux::encode_header(*h, back);
      if (std::memcmp(back, in.data() + off, yamux::kHeaderSize) != 0) std::abort();
    }
  }

  static asio::io_context listen_io;
  static tcp::acceptor acceptor(listen_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::io_context io;
  tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);

  yamux::Config cfg;
  cfg.max_streams = 4;
  auto session =
      std::make_shared<yamux::Session>(std::make_shared<SecureChannel>(std::move(server)),
                                       /*is_client=*/false, cfg);
  bool closed = false;
  session->start(
      [](std::shared_ptr<yamux::Stream> s) {
        // Read a little, write a little, like a protocol handler would.
        asio::co_spawn(
            s->executor(),
            [s]() -> Task<void> {
              std::uint8_t buf[64];
              auto n = co_await s->read_some(buf);
              if (n && *n > 0) (void)co_await s->write(ByteView(buf, *n));
              (void)s->close_write();
            },
            asio::detached);
      },
      [&closed](const Error&) { closed = true; });
  asio::write(client, asio::buffer(data, size));
  client.shutdown(tcp::socket::shutdown_send);
  // Drain what the session writes back so it never blocks on a full socket buffer.
  std::array<std::uint8_t, 4096> sink;
  std::function<void()> drain = [&] {
    client.async_read_some(asio::buffer(sink),
                           [&](const boost::system::error_code& ec, std::size_t) {
                             if (!ec) drain();
                           });
  };
  drain();
  while (!closed && io.run_one() > 0) {
  }
  if (!closed) std::abort();  // the session must notice the end of its input
  client.close();
  io.run();
  return 0;
}
