// Internal: libsodium must be initialised once before use; every crypto entry point calls this.
#pragma once

namespace ol::crypto::detail {
void ensure_sodium();
}
