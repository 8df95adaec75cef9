// Addresses ground into one bucket of the state commitment, as an attacker would make them:
// each costs about 65,536 Keccaks (a bucket is 16 bits of keccak256(address)), so a hundred
// take a second or two.
#pragma once

#include <cstdint>
#include <vector>

#include "execution/state_commitment.h"

namespace ol::testing {

struct GroundBucket {
  execution::StateCommitment::Bucket bucket = 0;
  std::vector<crypto::Address> addresses;  // distinct, all in `bucket`
};

/// `count` addresses in one bucket (the bucket of the first address tried). `tag` varies the
/// search so that two calls give disjoint sets.
inline GroundBucket ground_bucket(std::size_t count, std::uint8_t tag) {
  GroundBucket g;
  bool first = true;
  for (std::uint64_t i = 0; g.addresses.size() < count; ++i) {
    crypto::Address a;
    for (std::size_t k = 0; k < 8; ++k) a.bytes[k] = static_cast<std::uint8_t>(i >> (8 * k));
    a.bytes[19] = tag;
    a.bytes[18] = 0x9b;
    const auto b = execution::StateCommitment::bucket_of(execution::StateCommitment::key_of(a));
    if (first) {
      g.bucket = b;
      first = false;
    }
    if (b == g.bucket) g.addresses.push_back(a);
  }
  return g;
}

/// 72 addresses whose keys share their first 20 bits (all zero: bucket 0, and nibble 0 below
/// it), so that bucket 0 splits and its child 0 splits again. Found offline (~7·10^7 Keccaks,
/// 22 s): address = the counter (u64 LE) in bytes 0..7, 0x5e 0xed in bytes 18..19, zero
/// elsewhere; callers check the shared bits, so a wrong list fails loudly.
inline std::vector<crypto::Address> deep_ground_addresses() {
  static constexpr std::uint64_t kCounters[] = {
      279658,   700203,   837523,   1611435,  2431824,  3318234,  3518548,  5462442,  5560978,
      5858835,  6124520,  6475210,  6611597,  9555643,  10209526, 10270401, 10800302, 11369563,
      12582263, 14328403, 14329673, 14412680, 16471649, 18007207, 20090641, 20686360, 21360418,
      21972809, 22600590, 23116208, 24966242, 25128329, 26539584, 26635872, 29268180, 30521719,
      31172135, 31443395, 32168144, 33412451, 34131271, 34599161, 34686372, 34856962, 35516222,
      36256898, 36930913, 38409766, 39046062, 41103085, 41503125, 41847886, 42930811, 43225522,
      43795347, 44006147, 45591865, 47174251, 48203084, 53637217, 53684747, 54713283, 56239573,
      57755511, 58379009, 59711865, 62894485, 63014444, 64606870, 65080629, 65292305, 66953770};
  std::vector<crypto::Address> out;
  for (std::uint64_t i : kCounters) {
    crypto::Address a;
    for (std::size_t k = 0; k < 8; ++k) a.bytes[k] = static_cast<std::uint8_t>(i >> (8 * k));
    a.bytes[18] = 0x5e;
    a.bytes[19] = 0xed;
    out.push_back(a);
  }
  return out;
}

}  // namespace ol::testing
