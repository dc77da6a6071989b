#pragma once
// Keyed pseudonyms (RULES.md: "keyed pseudonym only where a basis or exemption covers PI";
// "Pseudonymised information still is [PI]").
//
//   pseudonym = "p" <epoch> ":" base32(HMAC-SHA256(key[epoch], tag)[0..16))
//   tag       = uint32_be(len(domain)) || domain || value
//
// - The domain names what is pseudonymised ("vin", "Vehicle.Occupant.Identifier"): the
//   same value in two domains gives unrelated pseudonyms, and the length prefix keeps
//   ("ab", "c") apart from ("a", "bc").
// - 128 bits of the MAC, RFC 4648 base32 in lower case without padding (26 characters):
//   collisions are negligible (birthday bound 2^64), and the text is safe in JSON, topics
//   and file names.
// - Stable: the same epoch, domain and value always give the same pseudonym, so a back end
//   can join records of one vehicle within an epoch.
// - Unlinkable across epochs without the keys: epochs have independent keys, so pseudonyms
//   of one value under two epochs are unrelated to anyone who holds neither key. Low-entropy
//   inputs (VINs, phone numbers) cannot be recovered by guessing without the key, which
//   plain hashing would allow.
// - Rotation: docs/treatments.md, "Key rotation".
//
// Contract: construction may fail (unknown epoch, OpenSSL); pseudonymise() is const, does
// not touch the KeyRing after construction, and may be called from several threads.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ecu/common/result.hpp"
#include "gateway/transform/key_ring.hpp"

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX, kept out of this header

namespace cordon::transform {

inline constexpr std::size_t kPseudonymMacBytes = 16;

class Pseudonymiser {
 public:
  // A pseudonymiser for `epoch`'s key (copied into OpenSSL's keyed state; the ring may be
  // destroyed afterwards). Errors: the ring has no key for `epoch`; OpenSSL fails.
  static Result<Pseudonymiser> create(const KeyRing& ring, std::uint32_t epoch);

  Result<std::string> pseudonymise(std::string_view domain, std::string_view value) const;

  std::uint32_t epoch() const { return epoch_; }

 private:
  struct CtxFree {
    void operator()(evp_mac_ctx_st* ctx) const;
  };
  Pseudonymiser(std::uint32_t epoch, std::unique_ptr<evp_mac_ctx_st, CtxFree> keyed)
      : epoch_(epoch), keyed_(std::move(keyed)) {}

  std::uint32_t epoch_;
  std::unique_ptr<evp_mac_ctx_st, CtxFree> keyed_;  // initialised with the key, duplicated per call
};

// RFC 4648 base32, lower case, no padding (exposed for tests and tools).
std::string base32Lower(const std::uint8_t* data, std::size_t size);

}  // namespace cordon::transform
