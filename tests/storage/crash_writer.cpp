// Helper process for the storage crash tests (not a test itself).
//
//   storage_crash_writer write DIR START   writes batch START, START+1, ... forever, printing each
//                                          batch number on stdout after Store::write returned;
//                                          the test SIGKILLs it at an arbitrary point.
//   storage_crash_writer open DIR          opens DIR and holds it open until stdin closes; exits
//                                          2 if the open failed with Errc::state (lock held).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/crash_batch.h"
#include "storage/store.h"

int main(int argc, char** argv) {
  using namespace ol;
  if (argc < 3) return 64;
  const std::string mode = argv[1];
  auto store = storage::Store::open(argv[2]);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().to_string().c_str());
    return store.error().code == Errc::state ? 2 : 1;
  }
  if (mode == "open") {
    std::printf("opened\n");
    std::fflush(stdout);
    while (std::getchar() != EOF) {
    }
    return 0;
  }
  if (mode != "write" || argc < 4) return 64;
  for (std::uint64_t i = std::strtoull(argv[3], nullptr, 10);; ++i) {
    auto st = (*store)->write(storage::test::crash_batch(i));
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.error().to_string().c_str());
      return 1;
    }
    std::printf("%llu\n", static_cast<unsigned long long>(i));
    std::fflush(stdout);
  }
}
