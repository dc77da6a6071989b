#pragma once
// The device-held pseudonym keys, one per key epoch (docs/treatments.md, "Key rotation").
//
// A key epoch is a number > 0 that names one HMAC key; the policy says which epoch is
// current (policy.fbs, pseudonym_key_epoch) and Pseudonymiser puts the epoch into every
// pseudonym's prefix. Keys are 32 to 64 bytes: RFC 2104 asks for at least the hash's
// output length, and longer than SHA-256's 64-byte block would only be hashed down.
//
// Key file (loadFile): text, one key per line, "<epoch> <key in hex>", '#' starts a comment
// line, blank lines are ignored. The file must be a regular file (no symlink), owned by the
// effective user and not readable or writable by group or others (0600 or 0400): a key
// others can read is refused rather than used. Errors name the file and line; they never
// contain key material.
//
// Contract: immutable after construction, safe to share between threads; move-only, and
// key bytes are wiped (OPENSSL_cleanse) when the ring is destroyed.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::transform {

struct PseudonymKey {
  std::uint32_t epoch = 0;
  std::vector<std::uint8_t> bytes;
};

class KeyRing {
 public:
  static constexpr std::size_t kMinKeyBytes = 32;
  static constexpr std::size_t kMaxKeyBytes = 64;  // HMAC-SHA256's block size: longer keys are hashed first

  // Errors: no key, an epoch of 0, an epoch twice, a key shorter than kMinKeyBytes or longer
  // than kMaxKeyBytes. The input's key bytes are wiped whether or not it succeeds.
  static Result<KeyRing> create(std::vector<PseudonymKey> keys);
  // Errors: the file cannot be opened, is not a regular file, is not owned by the effective
  // user, has group or other permission bits, or a line is malformed (file:line: why).
  static Result<KeyRing> loadFile(const std::string& path);

  KeyRing(KeyRing&&) noexcept = default;
  KeyRing& operator=(KeyRing&&) noexcept;
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;
  ~KeyRing();

  // The key of `epoch`, or an empty span when the ring has none.
  std::span<const std::uint8_t> key(std::uint32_t epoch) const;
  bool has(std::uint32_t epoch) const { return !key(epoch).empty(); }
  // Every epoch held, ascending.
  std::vector<std::uint32_t> epochs() const;

 private:
  explicit KeyRing(std::vector<PseudonymKey> keys) : keys_(std::move(keys)) {}
  void wipe();
  std::vector<PseudonymKey> keys_;  // sorted by epoch
};

}  // namespace cordon::transform
