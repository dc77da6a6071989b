#pragma once
// The bundle file (schemas/bundle.fbs, SignedBundle): Ed25519 signing and
// verification, and the checks a vehicle makes before it uses a bundle.
#include <cstdint>
#include <filesystem>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"
#include "gateway/policy/compiled_policy.hpp"

struct evp_pkey_st;

namespace cordon::policy {

// An Ed25519 key, private (signs) or public only (verifies). Owns the OpenSSL key.
class Ed25519Key {
 public:
  static Result<Ed25519Key> generate();
  // PEM: "PRIVATE KEY" (PKCS#8) or "PUBLIC KEY" (SPKI), as `openssl genpkey -algorithm ed25519` writes them.
  static Result<Ed25519Key> fromPemFile(const std::filesystem::path& file);
  static Result<Ed25519Key> fromPem(std::string_view pem, const std::string& name);

  bool hasPrivate() const { return private_; }
  std::string privatePem() const;
  std::string publicPem() const;
  // First 8 bytes of SHA-256 over the raw public key, in hex: names the key in bundles.
  std::string keyId() const;

  Result<std::vector<std::uint8_t>> sign(std::span<const std::uint8_t> data) const;
  bool verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  bool private_ = false;
};

struct OpenedBundle {
  std::vector<std::uint8_t> bundle;  // the nested PolicyBundle, copied so that it is aligned
  std::string keyId;
  std::vector<std::uint8_t> signature;
};
// Checks the envelope and the nested bundle's structure; no signature check.
Result<OpenedBundle> openBundleFile(std::span<const std::uint8_t> file);

// Signs (or re-signs) a bundle file.
Result<std::vector<std::uint8_t>> signBundleFile(std::span<const std::uint8_t> file, const Ed25519Key& key);
// True when the file carries a valid signature by `key`.
Status verifyBundleSignature(std::span<const std::uint8_t> file, const Ed25519Key& key);

// What a vehicle requires of a bundle before it replaces the one it runs.
struct BundleRequirements {
  const Ed25519Key* trustedKey = nullptr;  // required: unsigned bundles are refused
  std::uint64_t minVersion = 0;            // the version running now (or last accepted)
  // The policy hash of that version: a bundle of the same version must be the same
  // policy (a re-signed or altered bundle never reuses a version number).
  std::optional<std::array<std::uint8_t, 32>> currentPolicyHash;
  std::int64_t now = 0;                    // Unix s on the gateway's clock
  bool clockSynchronised = false;          // an unsynchronised clock cannot judge valid_until
};
// Verifies signature, structure, version and validity, then loads. The error says
// which check failed.
Result<std::shared_ptr<const CompiledPolicy>> loadBundle(std::span<const std::uint8_t> file,
                                                         const BundleRequirements& requirements);

Result<std::vector<std::uint8_t>> readBinaryFile(const std::filesystem::path& file);
Status writeFileAtomically(const std::filesystem::path& file, std::span<const std::uint8_t> bytes);

}  // namespace cordon::policy
