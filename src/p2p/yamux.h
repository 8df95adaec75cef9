// yamux (`/yamux/1.0.0`, hashicorp/yamux spec.md): many streams over one secured connection.
// Every frame is a 12-byte header {version=0, type, flags, stream id, length}, followed by
// `length` payload bytes for Data frames. The client (dialer) opens odd stream ids, the server
// even ones. Each stream starts with a 256 KiB receive window in each direction: a sender may have
// at most that many unacknowledged bytes in flight, and a receiver re-opens the window only as its
// application consumes data, so a slow reader pushes back on the sender instead of buffering.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "p2p/byte_stream.h"
#include "p2p/peer_id.h"
#include "p2p/secure_channel.h"

namespace ol::p2p::yamux {

inline constexpr std::string_view kProtocolId = "/yamux/1.0.0";
inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::uint32_t kInitialWindow = 256 * 1024;

enum class Type : std::uint8_t { data = 0, window_update = 1, ping = 2, go_away = 3 };
inline constexpr std::uint16_t kSyn = 1, kAck = 2, kFin = 4, kRst = 8;

struct Header {
  Type type = Type::data;
  std::uint16_t flags = 0;
  std::uint32_t stream_id = 0;
  std::uint32_t length = 0;
  bool operator==(const Header&) const = default;
};

void encode_header(const Header& h, std::uint8_t out[kHeaderSize]);
/// Decodes a 12-byte header; rejects versions other than 0, unknown types and unknown flags.
Result<Header> decode_header(ByteView in);

/// Why a yamux session is torn down, as sent in GoAway's length field.
enum class GoAwayCode : std::uint32_t { normal = 0, protocol_error = 1, internal_error = 2 };

struct Config {
  std::uint32_t window = kInitialWindow;  // receive window per stream (>= 256 KiB per spec)
  std::uint32_t max_streams =
      128;  // concurrent streams, both directions (worst case buffered: x window)
  std::size_t max_send_queue = 4 << 20;  // bytes queued for the socket before writers wait
};

class Session;

/// One yamux stream. All calls must run on the session's io_context thread.
class Stream final : public ByteStream {
 public:
  Stream(std::shared_ptr<Session> session, std::uint32_t id);

  std::uint32_t id() const { return id_; }
  const PeerId& remote_peer() const;
  asio::any_io_executor executor() const;
  /// The protocol negotiated on this stream by multistream-select ("" until then).
  const std::string& protocol() const { return protocol_; }
  void set_protocol(std::string p) { protocol_ = std::move(p); }

  /// Returns buffered data, waiting for some if none; 0 once the remote has closed its side.
  /// Errc::io if the stream was reset or the connection closed.
  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf) override;
  /// Sends all of `data`, waiting whenever the remote's window is exhausted.
  Task<Status> write(ByteView data) override;
  /// Half-close: sends FIN; reading continues until the remote closes too.
  Status close_write();
  /// Abandons the stream in both directions (RST).
  void reset();
  bool is_reset() const { return reset_; }
  /// Received bytes not yet read (never more than the receive window).
  std::size_t buffered() const { return buf_.size() - buf_pos_; }

 private:
  friend class Session;
  bool finished() const { return reset_ || (local_closed_ && remote_closed_); }

  std::shared_ptr<Session> session_;
  std::uint32_t id_;
  std::string protocol_;
  Signal signal_;  // wakes readers and writers of this stream
  Bytes buf_;      // received, unread: buf_[buf_pos_, end)
  std::size_t buf_pos_ = 0;
  std::uint32_t recv_window_;  // bytes the remote may still send
  std::uint32_t unacked_ = 0;  // consumed bytes not yet returned to the remote as window
  std::uint64_t send_window_;  // bytes we may still send
  bool local_closed_ = false, remote_closed_ = false, reset_ = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using StreamHandler = std::function<void(std::shared_ptr<Stream>)>;
  using CloseHandler = std::function<void(const Error&)>;

  Session(std::shared_ptr<SecureChannel> channel, bool is_client, Config config = {});
  ~Session();

  /// Starts the reader and writer coroutines. `on_stream` runs for each stream the remote opens;
  /// `on_close` runs once when the session ends, with the reason.
  void start(StreamHandler on_stream, CloseHandler on_close);
  /// Opens a stream (SYN). Errc::limit at the stream cap, Errc::state after GoAway or close.
  Result<std::shared_ptr<Stream>> open_stream();
  /// Round-trip time of one yamux ping.
  Task<Result<Clock::duration>> ping();
  /// Sends GoAway(normal), flushes queued frames and closes the connection.
  void close();
  /// Tears the connection down at once with the given reason (logged).
  void abort(GoAwayCode code, const std::string& reason);

  bool is_closed() const { return closed_; }
  const PeerId& remote_peer() const { return channel_->remote_peer(); }
  std::size_t stream_count() const { return streams_.size(); }
  asio::any_io_executor executor() { return executor_; }

 private:
  friend class Stream;
  struct PendingPing {
    explicit PendingPing(const asio::any_io_executor& ex) : done(ex) {}
    Signal done;
    bool answered = false;
  };

  Task<void> read_loop();
  Task<void> write_loop();
  Task<Status> read_payload(std::size_t length, Bytes& payload);
  // `payload` may be taken (swapped into a stream's buffer) to avoid a copy.
  Status handle_frame(const Header& h, Bytes& payload);
  Status handle_stream_frame(const Header& h, Bytes& payload);
  void enqueue(const Header& h, ByteView payload = {});
  void forget(std::uint32_t id);
  void fail(const Error& e);
  bool is_local_id(std::uint32_t id) const { return (id % 2 == 1) == is_client_; }

  std::shared_ptr<SecureChannel> channel_;
  asio::any_io_executor executor_;
  bool is_client_;
  Config config_;
  StreamHandler on_stream_;
  CloseHandler on_close_;
  std::unordered_map<std::uint32_t, std::shared_ptr<Stream>> streams_;
  std::uint32_t next_id_;
  std::uint32_t highest_remote_id_ = 0;
  std::uint32_t refused_in_a_row_ = 0;
  std::map<std::uint32_t, std::shared_ptr<PendingPing>> pings_;
  std::uint32_t next_ping_ = 1;
  Bytes out_;            // frames waiting for the writer
  Signal out_signal_;    // writer: frames queued or closing
  Signal drain_signal_;  // stream writers: queue drained below the bound
  bool closing_ = false, closed_ = false, remote_go_away_ = false;
};

}  // namespace ol::p2p::yamux
