#include "node/tools/tools.h"

#include <CLI/CLI.hpp>

namespace ol::node::tools {

void add_commands(CLI::App& /*app*/) {
  // `devnet` and `bench` are registered here (work in progress).
}

}  // namespace ol::node::tools
