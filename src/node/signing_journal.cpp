#include "node/signing_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/hex.h"

namespace ol::node {

Result<SigningJournal> SigningJournal::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(Errc::io, "signing journal " + path.string() + ": " + std::strerror(errno));
  }
  return SigningJournal(fd);
}

SigningJournal::SigningJournal(SigningJournal&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

SigningJournal& SigningJournal::operator=(SigningJournal&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

SigningJournal::~SigningJournal() {
  if (fd_ >= 0) ::close(fd_);
}

std::string SigningJournal::line_for(const consensus::Message& m) {
  if (const auto* v = std::get_if<consensus::Vote>(&m)) {
    return "vote " + std::to_string(v->round) + " " + to_hex(v->block_id) + "\n";
  }
  if (const auto* t = std::get_if<consensus::TimeoutMsg>(&m)) {
    return "timeout " + std::to_string(t->timeout.round) + " " +
           std::to_string(t->timeout.high_qc.round) + "\n";
  }
  if (const auto* p = std::get_if<consensus::ProposalMsg>(&m)) {
    return "proposal " + std::to_string(p->block.round) + " " + to_hex(p->block.compute_id()) +
           "\n";
  }
  return {};
}

Status SigningJournal::record(const consensus::Message& m) {
  const std::string line = line_for(m);
  if (line.empty()) return {};
  // O_APPEND: one write per line; a short write of a few dozen bytes to a regular file only
  // happens on a full disk, which is an error here.
  const ssize_t n = ::write(fd_, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    return make_error(Errc::io, std::string("signing journal write: ") +
                                    (n < 0 ? std::strerror(errno) : "short write"));
  }
  return {};
}

}  // namespace ol::node
