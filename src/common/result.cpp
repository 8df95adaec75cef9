#include "common/result.h"

namespace ol {

const char* errc_name(Errc c) {
  switch (c) {
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::decode:
      return "decode";
    case Errc::verify:
      return "verify";
    case Errc::not_found:
      return "not found";
    case Errc::io:
      return "io";
    case Errc::limit:
      return "limit";
    case Errc::state:
      return "state";
    case Errc::timeout:
      return "timeout";
    case Errc::internal:
      return "internal";
  }
  return "unknown";
}

std::string Error::to_string() const {
  return std::string(errc_name(code)) + ": " + message;
}

}  // namespace ol
