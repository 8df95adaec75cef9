#include "common/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace ol {

void set_thread_name(std::thread& thread, const char* name) {
  constexpr std::size_t kMaxLen = 15;  // Linux's limit, without the terminating NUL
  const std::string cut(name, std::min(std::strlen(name), kMaxLen));
  (void)pthread_setname_np(thread.native_handle(), cut.c_str());
}

}  // namespace ol
