// The p2p diagnostic commands (listen, ping, identify), callable from any executable: the
// standalone `openliquid-p2p`, and later `openliquid p2p ...` from the node binary.
#pragma once

#include <string>

namespace ol::p2p {

/// Parses `argv` (argv[0] is the program or subcommand name) and runs the command. Returns the
/// process exit status: 0 on success, 1 with one line "<name>: <reason>" on stderr on failure.
int run_p2p_tool(int argc, char** argv, const std::string& name = "openliquid-p2p");

}  // namespace ol::p2p
