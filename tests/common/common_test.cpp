#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include "common/bytes.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/result.h"
#include "common/thread_name.h"

namespace ol {
namespace {

TEST(Hex, EncodesLowerCaseWithOptionalPrefix) {
  Bytes b{0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(b), "00abff");
  EXPECT_EQ(to_hex(b, true), "0x00abff");
  EXPECT_EQ(to_hex(Bytes{}), "");
}

TEST(Hex, DecodesEitherCaseWithOrWithoutPrefix) {
  EXPECT_EQ(*from_hex("00ABff"), (Bytes{0x00, 0xab, 0xff}));
  EXPECT_EQ(*from_hex("0x00abFF"), (Bytes{0x00, 0xab, 0xff}));
  EXPECT_EQ(*from_hex("0X"), Bytes{});
}

TEST(Hex, RejectsOddLengthAndBadCharactersWithPosition) {
  auto odd = from_hex("abc");
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().code, Errc::invalid_argument);
  EXPECT_NE(odd.error().message.find("odd length"), std::string::npos);

  auto bad = from_hex("0x00zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("position 4"), std::string::npos);
}

TEST(Hex, FixedWidthParsingChecksLength) {
  EXPECT_TRUE(from_hex_fixed<2>("0102").ok());
  auto r = from_hex_fixed<3>("0102");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("expected 3 bytes"), std::string::npos);
}

TEST(Bytes, ConstantTimeEqualComparesContentAndLength) {
  Bytes a{1, 2, 3}, b{1, 2, 3}, c{1, 2, 4}, d{1, 2};
  EXPECT_TRUE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, c));
  EXPECT_FALSE(constant_time_equal(a, d));
}

TEST(Bytes, ConcatJoinsViewsInOrder) {
  Bytes a{1}, b{2, 3};
  EXPECT_EQ(concat(a, b, as_bytes("A")), (Bytes{1, 2, 3, 'A'}));
}

Result<int> parse_positive(int x) {
  if (x <= 0) return make_error(Errc::invalid_argument, "not positive");
  return x;
}

Result<int> doubled(int x) {
  OL_TRY_ASSIGN(int v, parse_positive(x));
  return v * 2;
}

Status check(int x) {
  OL_TRY(parse_positive(x));
  return {};
}

TEST(Result, PropagatesErrorsThroughTryMacros) {
  EXPECT_EQ(*doubled(21), 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().to_string(), "invalid argument: not positive");
  EXPECT_TRUE(check(1).ok());
  EXPECT_FALSE(check(0).ok());
}

TEST(Log, RejectsUnknownLevelAndAcceptsKnownOnes) {
  ASSERT_TRUE(log::init("warn", "common_test").ok());
  ASSERT_TRUE(log::init("info", "common_test").ok());  // idempotent
  EXPECT_TRUE(log::set_level("debug").ok());
  EXPECT_TRUE(log::set_level("off").ok());
  auto bad = log::set_level("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("verbose"), std::string::npos);
}

// The name shows in /proc (top -H, ps -L, perf) as soon as set_thread_name returns, cut to
// Linux's 15 characters.
TEST(ThreadName, NamesAThreadCutTo15Characters) {
  std::promise<void> named;
  std::promise<pid_t> tid;
  std::thread t([&] {
    tid.set_value(::gettid());
    named.get_future().wait();
  });
  const pid_t id = tid.get_future().get();
  auto name_of = [&] {
    std::ifstream in("/proc/self/task/" + std::to_string(id) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
  };
  set_thread_name(t, "ol-test");
  EXPECT_EQ(name_of(), "ol-test");
  set_thread_name(t, "ol-a-much-longer-thread-name");
  EXPECT_EQ(name_of(), "ol-a-much-longe");
  named.set_value();
  t.join();
}

}  // namespace
}  // namespace ol
