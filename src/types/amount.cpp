#include "types/amount.h"

namespace ol::types {

std::string amount_to_string(Amount v) {
  if (v == 0) return "0";
  std::string s;
  while (v > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return {s.rbegin(), s.rend()};
}

Result<Amount> parse_amount(std::string_view text) {
  if (text.empty() || text.size() > 39) {
    return make_error(Errc::invalid_argument, "amount must be 1 to 39 decimal digits");
  }
  Amount v = 0;
  const Amount max = ~Amount(0);
  for (char c : text) {
    if (c < '0' || c > '9') {
      return make_error(Errc::invalid_argument,
                        "amount '" + std::string(text) + "' is not decimal");
    }
    auto d = static_cast<unsigned>(c - '0');
    if (v > (max - d) / 10) return make_error(Errc::invalid_argument, "amount exceeds 2^128 - 1");
    v = v * 10 + d;
  }
  return v;
}

}  // namespace ol::types
