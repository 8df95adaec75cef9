// Scalar vocabulary shared by every consensus type.
#pragma once

#include <cstdint>

namespace ol::types {

/// A consensus round (view). Round 0 belongs to genesis; real proposals start at round 1.
using Round = std::uint64_t;
/// Distance of a block from genesis (genesis is height 0).
using Height = std::uint64_t;
/// A validator's position in the ValidatorSet.
using ValidatorIndex = std::uint32_t;

}  // namespace ol::types
