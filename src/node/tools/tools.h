// The operator's client-side commands: `openliquid devnet` (a local multi-validator network with a
// demo load and a live status line) and `openliquid bench` (the load generator). They talk to
// nodes only through processes and the HTTP RPC (docs/RPC.md), never through node internals.
#pragma once

namespace CLI {
class App;
}

namespace ol::node::tools {

/// Adds the `devnet` and `bench` subcommands to `app`. Each runs from its CLI11 callback and
/// reports failure by throwing CLI::RuntimeError with a non-zero exit code after printing a
/// one-line reason.
void add_commands(CLI::App& app);

}  // namespace ol::node::tools
