// The network layer's small pure parts: frame reassembly, the gossip envelope, token buckets and
// the redial backoff.
#include <gtest/gtest.h>

#include "network/backoff.h"
#include "network/envelope.h"
#include "network/frame.h"
#include "network/rate_limit.h"

namespace ol::network {
namespace {

using namespace std::chrono_literals;

TEST(NetworkFrameBuffer, ReassemblesFramesSplitAcrossReads) {
  Bytes wire;
  for (std::string_view s : {"a", "", "hello world"}) append(wire, encode_frame(as_bytes(s)));
  FrameBuffer fb(1024);
  std::vector<std::string> got;
  for (std::uint8_t b : wire) {  // one byte per read: the worst split
    fb.append(ByteView(&b, 1));
    while (fb.next() == FrameBuffer::State::frame) {
      got.emplace_back(fb.frame().begin(), fb.frame().end());
      fb.pop();
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a", "", "hello world"}));
  EXPECT_EQ(fb.buffered(), 0u);
}

TEST(NetworkFrameBuffer, RejectsAnOversizedLengthBeforeItsBody) {
  FrameBuffer fb(100);
  const Bytes header = {0, 0, 0, 101};
  fb.append(header);
  EXPECT_EQ(fb.next(), FrameBuffer::State::oversized);
  FrameBuffer exact(100);
  exact.append(encode_frame(Bytes(100, 7)));
  EXPECT_EQ(exact.next(), FrameBuffer::State::frame);
}

TEST(NetworkEnvelope, RoundTripsAndRejectsShortPayloads) {
  const Bytes data = {1, 2, 3};
  const Bytes wrapped = wrap_gossip(data, 0x0102030405060708ull);
  ASSERT_EQ(wrapped.size(), kEnvelopeHeader + 3);
  EXPECT_EQ(wrapped[0], 1);
  auto env = unwrap_gossip(wrapped);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->publish_ms, 0x0102030405060708ull);
  EXPECT_EQ(Bytes(env->data.begin(), env->data.end()), data);
  EXPECT_FALSE(unwrap_gossip(Bytes(7, 0)));
  EXPECT_TRUE(unwrap_gossip(Bytes(8, 0)));  // empty data is a valid message
}

TEST(NetworkInboundLimiter, AdmitsABurstThenRefillsAtTheRate) {
  const auto t0 = std::chrono::steady_clock::now();
  InboundLimiter lim(10, 1e9, t0);
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += lim.admit(1, t0);
  EXPECT_EQ(admitted, 10);  // burst = one second's worth
  EXPECT_FALSE(lim.admit(1, t0 + 50ms));
  EXPECT_TRUE(lim.admit(1, t0 + 150ms));  // 1.5 tokens refilled
}

TEST(NetworkInboundLimiter, ChargesSeveralMessagesAtOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  InboundLimiter lim(10, 1e9, t0);
  EXPECT_TRUE(lim.admit(100, t0, 7));   // one RPC carrying 7 messages
  EXPECT_FALSE(lim.admit(100, t0, 4));  // 3 left: refused whole, nothing taken
  EXPECT_TRUE(lim.admit(100, t0, 3));
  EXPECT_FALSE(lim.admit(1, t0));
}

TEST(NetworkInboundLimiter, BytesLimitAndConsecutiveViolations) {
  const auto t0 = std::chrono::steady_clock::now();
  InboundLimiter lim(1e6, 1000, t0);
  EXPECT_TRUE(lim.admit(600, t0));
  EXPECT_FALSE(lim.admit(600, t0));  // 400 bytes left
  EXPECT_TRUE(lim.admit(400, t0));
  EXPECT_EQ(lim.end_window(), 1u);
  EXPECT_FALSE(lim.admit(1, t0));
  EXPECT_EQ(lim.end_window(), 2u);
  EXPECT_EQ(lim.end_window(), 0u);  // a clean window resets the count
  EXPECT_TRUE(lim.idle());
  // Larger than the burst: passes only with a full bucket.
  EXPECT_TRUE(lim.admit(5000, t0 + 2s));
}

TEST(NetworkRedialDelay, GrowsExponentiallyWithinBaseAndCap) {
  const auto base = 100ms, cap = 1000ms;
  EXPECT_EQ(redial_delay(base, cap, 0, 1.0), 100ms);
  EXPECT_EQ(redial_delay(base, cap, 1, 1.0), 200ms);
  EXPECT_EQ(redial_delay(base, cap, 3, 1.0), 800ms);
  EXPECT_EQ(redial_delay(base, cap, 4, 1.0), 1000ms);
  EXPECT_EQ(redial_delay(base, cap, 1000, 1.0), 1000ms);
  for (std::size_t a = 0; a < 64; ++a) {
    EXPECT_GE(redial_delay(base, cap, a, 0.0), base);
    EXPECT_LE(redial_delay(base, cap, a, 0.5), cap);
  }
  EXPECT_EQ(redial_delay(base, cap, 3, 0.5), 450ms);  // jitter spreads over [base, 800 ms]
}

}  // namespace
}  // namespace ol::network
