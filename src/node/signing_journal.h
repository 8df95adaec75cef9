// SigningJournal: an opt-in, append-only record of every consensus message this validator signs,
// written before the message leaves the process (config `signing_journal = true`). It exists so
// an outside checker (`openliquid chaos`) can prove that no round was double-signed across
// crashes and restarts. One line per message, appended with write(2) (so it survives SIGKILL):
//   vote <round> <block_id_hex>
//   timeout <round> <high_qc_round>
//   proposal <round> <block_id_hex>
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"
#include "consensus/messages.h"

namespace ol::node {

class SigningJournal {
 public:
  /// Opens (creating, mode 0600) `path` for appending.
  static Result<SigningJournal> open(const std::filesystem::path& path);
  SigningJournal(SigningJournal&& other) noexcept;
  SigningJournal& operator=(SigningJournal&& other) noexcept;
  SigningJournal(const SigningJournal&) = delete;
  SigningJournal& operator=(const SigningJournal&) = delete;
  ~SigningJournal();

  /// Appends the line for `m` if it is a message this validator signs (vote, timeout,
  /// proposal); other messages are ignored. Errors are returned (the caller must not send).
  Status record(const consensus::Message& m);

  /// The journal line for `m`, or "" if `m` is not a signed message kind.
  static std::string line_for(const consensus::Message& m);

 private:
  explicit SigningJournal(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace ol::node
