// Names the calling thread (Linux: at most 15 characters, shown by top -H, ps -L and perf), so
// that an operator can tell a node's threads apart: ol-core, ol-verify, ol-checkpoint (the io
// thread keeps the process name, so `ps -C openliquid` and `pkill openliquid` still find it).
#pragma once

namespace ol {

/// Longer names are cut to 15 characters; failure is ignored (a name is a convenience).
void set_thread_name(const char* name);

}  // namespace ol
