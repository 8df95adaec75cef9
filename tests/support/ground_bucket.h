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

}  // namespace ol::testing
