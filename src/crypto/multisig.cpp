#include "crypto/multisig.h"

#include <algorithm>
#include <bit>

namespace ol::crypto {
namespace {
std::size_t bitmap_bytes(std::size_t n) {
  return (n + 7) / 8;
}
}  // namespace

Result<QuorumSignature> QuorumSignature::from_parts(
    std::size_t validator_count,
    const std::vector<std::pair<std::size_t, Ed25519Signature>>& parts) {
  if (validator_count == 0 || validator_count > kMaxValidators) {
    return make_error(Errc::invalid_argument,
                      "validator count " + std::to_string(validator_count) + " out of range");
  }
  auto sorted = parts;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  QuorumSignature qs;
  qs.validator_count_ = static_cast<std::uint32_t>(validator_count);
  qs.bitmap_.assign(bitmap_bytes(validator_count), 0);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    std::size_t idx = sorted[i].first;
    if (idx >= validator_count) {
      return make_error(Errc::invalid_argument,
                        "signer index " + std::to_string(idx) + " out of range");
    }
    if (i > 0 && sorted[i - 1].first == idx) {
      return make_error(Errc::invalid_argument, "signer " + std::to_string(idx) + " appears twice");
    }
    qs.bitmap_[idx / 8] |= static_cast<std::uint8_t>(1u << (idx % 8));
    qs.signatures_.push_back(sorted[i].second);
  }
  return qs;
}

bool QuorumSignature::has_signer(std::size_t index) const {
  if (index >= validator_count_) return false;
  return (bitmap_[index / 8] >> (index % 8)) & 1u;
}

std::vector<std::size_t> QuorumSignature::signers() const {
  std::vector<std::size_t> out;
  out.reserve(signatures_.size());
  for (std::size_t i = 0; i < validator_count_; ++i) {
    if (has_signer(i)) out.push_back(i);
  }
  return out;
}

Status QuorumSignature::verify(const ValidatorSet& set, ByteView message) const {
  return verify_each(set, [&](std::size_t) { return to_bytes(message); });
}

Status QuorumSignature::verify(const ValidatorSet& set, ByteView message,
                               const QuorumSignature& known) const {
  // `check` asks in ascending signer order: walk `known`'s signers alongside (linear in n).
  const auto known_signers = known.signers();
  std::size_t at = 0;
  return check(
      set, [&](std::size_t) { return to_bytes(message); },
      [&](std::size_t signer, const Ed25519Signature& s) {
        while (at < known_signers.size() && known_signers[at] < signer) ++at;
        return at < known_signers.size() && known_signers[at] == signer &&
               at < known.signatures_.size() && known.signatures_[at] == s;
      });
}

Status QuorumSignature::verify_each(
    const ValidatorSet& set, const std::function<Bytes(std::size_t signer)>& message_for) const {
  return check(set, message_for, [](std::size_t, const Ed25519Signature&) { return false; });
}

Status QuorumSignature::check(
    const ValidatorSet& set, const std::function<Bytes(std::size_t signer)>& message_for,
    const std::function<bool(std::size_t, const Ed25519Signature&)>& already_checked) const {
  if (validator_count_ != set.size()) {
    return make_error(Errc::verify, "signature bitmap covers " + std::to_string(validator_count_) +
                                        " validators, set has " + std::to_string(set.size()));
  }
  auto who = signers();
  // Distinctness is structural: one bit per validator. Count must match the signatures held.
  if (who.size() != signatures_.size()) {
    return make_error(Errc::verify, "signer bitmap and signature count disagree");
  }
  if (who.size() < set.quorum()) {
    return make_error(Errc::verify, std::to_string(who.size()) + " signers, quorum is " +
                                        std::to_string(set.quorum()));
  }
  for (std::size_t i = 0; i < who.size(); ++i) {
    if (already_checked(who[i], signatures_[i])) continue;
    if (!ed25519_verify(set.key(who[i]), message_for(who[i]), signatures_[i])) {
      return make_error(Errc::verify, "bad signature from validator " + std::to_string(who[i]));
    }
  }
  return {};
}

void QuorumSignature::encode(codec::Writer& w) const {
  w.u32(validator_count_);
  w.fixed(bitmap_);
  w.u32(static_cast<std::uint32_t>(signatures_.size()));
  for (const auto& s : signatures_) w.fixed(s.bytes);
}

Result<QuorumSignature> QuorumSignature::decode(codec::Reader& r) {
  QuorumSignature qs;
  OL_TRY_ASSIGN(qs.validator_count_, r.u32());
  if (qs.validator_count_ == 0 || qs.validator_count_ > kMaxValidators) {
    return codec::Reader::over_bound("validator count", qs.validator_count_, kMaxValidators);
  }
  OL_TRY_ASSIGN(ByteView bm, r.raw(bitmap_bytes(qs.validator_count_)));
  qs.bitmap_ = to_bytes(bm);
  const std::size_t used_bits = qs.validator_count_ % 8;
  if (used_bits != 0 && (qs.bitmap_.back() >> used_bits) != 0) {
    return codec::Reader::non_canonical("signer bitmap (bits set beyond the validator count)");
  }
  std::size_t set_bits = 0;
  for (auto b : qs.bitmap_) set_bits += static_cast<std::size_t>(std::popcount(b));
  OL_TRY_ASSIGN(std::uint32_t count, r.u32());
  if (count != set_bits) {
    return make_error(Errc::decode, "signature count " + std::to_string(count) +
                                        " does not match " + std::to_string(set_bits) + " signers");
  }
  if (count > r.remaining() / 64) return codec::Reader::truncated("signatures");
  qs.signatures_.resize(count);
  for (auto& s : qs.signatures_) {
    OL_TRY_ASSIGN(s.bytes, r.fixed<64>());
  }
  return qs;
}

}  // namespace ol::crypto
