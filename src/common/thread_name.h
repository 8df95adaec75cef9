// Names a thread (Linux: at most 15 characters, shown by top -H, ps -L and perf), so that an
// operator can tell a node's threads apart: ol-core, ol-verify, ol-checkpoint (the io thread
// keeps the process name, so `ps -C openliquid` and `pkill openliquid` still find it).
#pragma once

#include <thread>

namespace ol {

/// Names `thread` (call it right after creating the thread: the name is then in place before
/// anyone can look). Longer names are cut to 15 characters; failure is ignored (a name is a
/// convenience).
void set_thread_name(std::thread& thread, const char* name);

}  // namespace ol
