// Native-token amounts and their decimal text form (JSON, RPC, receipts, genesis files).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ol::types {

/// Native-token amounts: 128 bits (3.4e38 base units; ample for 18 decimals).
__extension__ typedef unsigned __int128 Amount;

/// Decimal text, no sign, no separators ("0", "1000000000000000000").
std::string amount_to_string(Amount v);

/// Strict decimal parser: 1 to 39 ASCII digits, value at most 2^128 - 1.
Result<Amount> parse_amount(std::string_view text);

}  // namespace ol::types
