#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace ol::log {

Status set_level(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return make_error(Errc::invalid_argument,
                      "unknown log level '" + std::string(level) +
                          "' (use trace, debug, info, warn, error, critical or off)");
  }
  spdlog::set_level(parsed);
  return {};
}

Status init(std::string_view level, std::string_view name) {
  auto logger = spdlog::get(std::string(name));
  if (!logger) logger = spdlog::stderr_color_mt(std::string(name));
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%n] %v");
  return set_level(level);
}

}  // namespace ol::log
