// Logging setup on spdlog. Layers log through spdlog's default logger; the node configures it once.
#pragma once

#include <string_view>

#include "common/result.h"

namespace ol::log {

/// Sets the default logger's level from a name: trace, debug, info, warn, error, critical, off.
Status set_level(std::string_view level);

/// Installs a stderr logger with the project's pattern ("[time] [level] [name] msg") at `level`.
Status init(std::string_view level = "info", std::string_view name = "openliquid");

}  // namespace ol::log
