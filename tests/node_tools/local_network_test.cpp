// LocalNetwork (devnet, bench, chaos) with real validator processes.
#include "node/tools/local_network.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/temp_dir.h"

namespace ol::node::tools {
namespace {

// Every start and restart runs the executable the network was created with, even after a build
// removed or replaced its path: a chaos or soak run beside a rebuild used to restart validators
// with whatever the path held at that moment, or fail to (exit status 127, reported as crashes).
TEST(LocalNetwork, RestartsRunTheBinaryItWasCreatedWith) {
  ol::testing::TempDir tmp;
  const auto bin = tmp.path() / "openliquid";
  std::error_code ec;
  std::filesystem::create_hard_link(OL_OPENLIQUID, bin, ec);
  if (ec) {
    ASSERT_TRUE(std::filesystem::copy_file(OL_OPENLIQUID, bin));
  }
  LocalNetworkOptions opts;
  opts.validators = 4;
  opts.dir = tmp.path() / "net";
  opts.node_binary = bin;
  auto net = LocalNetwork::create(opts);
  ASSERT_TRUE(net.ok()) << net.error().to_string();
  const auto healthy = [&] {
    return (*net)->wait_until_healthy(std::chrono::seconds(60),
                                      [](const std::string&) { return true; });
  };
  ASSERT_TRUE((*net)->start().ok());
  auto up = healthy();
  ASSERT_TRUE(up.ok()) << up.error().to_string();

  std::filesystem::remove(bin);  // as a linker does before it writes the new file
  EXPECT_EQ((*net)->stop(), 0u);
  ASSERT_TRUE((*net)->start().ok());
  up = healthy();
  EXPECT_TRUE(up.ok()) << up.error().to_string();
  for (std::size_t i = 0; i < (*net)->size(); ++i) EXPECT_TRUE((*net)->running(i)) << i;
}

}  // namespace
}  // namespace ol::node::tools
