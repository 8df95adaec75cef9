// A quorum signature: who signed (a bitmap over the validator set) and their signatures.
// Today it is a list of Ed25519 signatures; the interface hides that so an aggregate scheme can
// replace it without touching QuorumCert or TimeoutCert.
#pragma once

#include <functional>
#include <vector>

#include "codec/codec.h"
#include "crypto/validator_set.h"

namespace ol::crypto {

class QuorumSignature {
 public:
  QuorumSignature() = default;

  /// Builds from (validator index, signature) pairs over one message. Errors on an index out of
  /// range or a repeated index. Does not verify the signatures (the aggregator already did).
  static Result<QuorumSignature> from_parts(
      std::size_t validator_count,
      const std::vector<std::pair<std::size_t, Ed25519Signature>>& parts);

  /// Valid iff: the bitmap covers exactly `set.size()` validators, signer count ≥ set.quorum(),
  /// one signature per set bit, and every signature verifies over `message` under its signer's key.
  Status verify(const ValidatorSet& set, ByteView message) const;
  /// As `verify`, but a signature identical to `known`'s for the same signer (a quorum
  /// signature over the same message that has already passed `verify`) is not checked again.
  Status verify(const ValidatorSet& set, ByteView message, const QuorumSignature& known) const;

  /// Multi-message form (timeout certificates): as `verify`, but signer i signed
  /// `message_for(i)`. Same shape checks; every signature must verify over its own message.
  Status verify_each(const ValidatorSet& set,
                     const std::function<Bytes(std::size_t signer)>& message_for) const;

  std::size_t signer_count() const { return signatures_.size(); }
  /// Signer indices in ascending order.
  std::vector<std::size_t> signers() const;
  bool has_signer(std::size_t index) const;

  void encode(codec::Writer& w) const;
  /// Bounded: at most kMaxValidators validators; bitmap bytes must match the validator count and
  /// unused high bits must be zero (canonical); signature count must equal the set bits.
  static Result<QuorumSignature> decode(codec::Reader& r);

  bool operator==(const QuorumSignature&) const = default;

  static constexpr std::size_t kMaxValidators = 1024;

 private:
  /// The shape checks, then every signature for which `already_checked(signer, signature)` is
  /// false must verify over `message_for(signer)`.
  Status check(
      const ValidatorSet& set, const std::function<Bytes(std::size_t signer)>& message_for,
      const std::function<bool(std::size_t, const Ed25519Signature&)>& already_checked) const;

  std::uint32_t validator_count_ = 0;
  Bytes bitmap_;                              // ceil(validator_count / 8) bytes, LSB-first
  std::vector<Ed25519Signature> signatures_;  // in ascending signer order
};

}  // namespace ol::crypto
