// openliquid-p2p: see p2p_tool.h.
#include "p2p/tool/p2p_tool.h"

int main(int argc, char** argv) {
  return ol::p2p::run_p2p_tool(argc, argv);
}
