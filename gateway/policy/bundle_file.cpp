#include "gateway/policy/bundle_file.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "bundle_generated.h"
#include "gateway/policy/policy_source.hpp"

namespace cordon::policy {
namespace {

namespace fb = wire::bundle;

std::string pemOf(evp_pkey_st* key, bool privatePart) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  const int ok = privatePart ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)
                             : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

Result<Ed25519Key> Ed25519Key::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return Error{"OpenSSL could not generate an Ed25519 key"};
  Ed25519Key key;
  key.key_.reset(raw, EVP_PKEY_free);
  key.private_ = true;
  return key;
}

Result<Ed25519Key> Ed25519Key::fromPem(std::string_view pem, const std::string& name) {
  const auto load = [&](bool privatePart) -> EVP_PKEY* {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    return privatePart ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                       : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  };
  Ed25519Key key;
  const bool looksPrivate = pem.find("PRIVATE KEY") != std::string_view::npos;
  EVP_PKEY* raw = load(looksPrivate);
  if (raw == nullptr) return Error{name + ": not a PEM " + (looksPrivate ? "private" : "public") + " key"};
  key.key_.reset(raw, EVP_PKEY_free);
  key.private_ = looksPrivate;
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) return Error{name + ": not an Ed25519 key (policy bundles are signed with Ed25519)"};
  return key;
}

Result<Ed25519Key> Ed25519Key::fromPemFile(const std::filesystem::path& file) {
  auto text = readTextFile(file);
  if (!text) return text.error();
  return fromPem(text.value(), file.string());
}

std::string Ed25519Key::privatePem() const { return private_ ? pemOf(key_.get(), true) : std::string(); }
std::string Ed25519Key::publicPem() const { return pemOf(key_.get(), false); }

std::string Ed25519Key::keyId() const {
  std::array<std::uint8_t, 32> raw{};
  std::size_t size = raw.size();
  EVP_PKEY_get_raw_public_key(key_.get(), raw.data(), &size);
  std::array<std::uint8_t, 32> digest{};
  unsigned int digestSize = 0;
  EVP_Digest(raw.data(), size, digest.data(), &digestSize, EVP_sha256(), nullptr);
  return toHex(std::span(digest).first(8));
}

Result<std::vector<std::uint8_t>> Ed25519Key::sign(std::span<const std::uint8_t> data) const {
  if (!private_) return Error{"signing needs a private key"};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::vector<std::uint8_t> signature(64);
  std::size_t size = signature.size();
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature.data(), &size, data.data(), data.size()) != 1) {
    return Error{"OpenSSL could not sign"};
  }
  signature.resize(size);
  return signature;
}

bool Ed25519Key::verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> signature) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
}

Result<OpenedBundle> openBundleFile(std::span<const std::uint8_t> file) {
  if (file.size() < 8 || !fb::SignedBundleBufferHasIdentifier(file.data())) {
    return Error{"not a Cordon policy bundle (file identifier CPB1 missing)"};
  }
  // Copy first: the verifier checks alignment, and a file read into a byte vector is
  // aligned, a span into someone else's buffer may not be.
  const std::vector<std::uint8_t> copy(file.begin(), file.end());
  flatbuffers::Verifier verifier(copy.data(), copy.size());
  if (!fb::VerifySignedBundleBuffer(verifier)) return Error{"policy bundle file is damaged (does not verify)"};
  const fb::SignedBundle& envelope = *fb::GetSignedBundle(copy.data());
  OpenedBundle opened;
  opened.bundle.assign(envelope.bundle()->begin(), envelope.bundle()->end());
  if (envelope.key_id() != nullptr) opened.keyId = envelope.key_id()->str();
  if (envelope.signature() != nullptr) opened.signature.assign(envelope.signature()->begin(), envelope.signature()->end());
  return opened;
}

Result<std::vector<std::uint8_t>> signBundleFile(std::span<const std::uint8_t> file, const Ed25519Key& key) {
  auto opened = openBundleFile(file);
  if (!opened) return opened.error();
  auto signature = key.sign(opened->bundle);
  if (!signature) return signature.error();
  flatbuffers::FlatBufferBuilder b(opened->bundle.size() + 512);
  b.ForceVectorAlignment(opened->bundle.size(), sizeof(std::uint8_t), 16);
  const auto bytes = b.CreateVector(opened->bundle);
  const auto keyId = b.CreateString(key.keyId());
  const auto sig = b.CreateVector(signature.value());
  b.Finish(fb::CreateSignedBundle(b, bytes, keyId, sig), fb::SignedBundleIdentifier());
  return std::vector<std::uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

Status verifyBundleSignature(std::span<const std::uint8_t> file, const Ed25519Key& key) {
  auto opened = openBundleFile(file);
  if (!opened) return opened.error();
  if (opened->signature.empty()) return Error{"the bundle is not signed"};
  if (!opened->keyId.empty() && opened->keyId != key.keyId()) {
    return Error{"the bundle is signed by key " + opened->keyId + ", not by the trusted key " + key.keyId()};
  }
  if (!key.verify(opened->bundle, opened->signature)) return Error{"the bundle's signature does not verify (altered or forged)"};
  return Status::success();
}

Result<std::shared_ptr<const CompiledPolicy>> loadBundle(std::span<const std::uint8_t> file,
                                                         const BundleRequirements& requirements) {
  if (requirements.trustedKey == nullptr) return Error{"no trusted policy key configured: refusing to load any bundle"};
  if (Status signature = verifyBundleSignature(file, *requirements.trustedKey); !signature) return Error{signature.message()};
  auto opened = openBundleFile(file);
  if (!opened) return opened.error();
  auto policy = CompiledPolicy::fromBundleBytes(opened->bundle);
  if (!policy) return policy.error();
  const CompiledPolicy& p = *policy.value();
  if (p.version() < requirements.minVersion) {
    return Error{"bundle version " + std::to_string(p.version()) + " is older than version " +
                 std::to_string(requirements.minVersion) + " already accepted"};
  }
  if (p.version() == requirements.minVersion && requirements.currentPolicyHash &&
      p.policyHash() != *requirements.currentPolicyHash) {
    return Error{"bundle version " + std::to_string(p.version()) +
                 " is the version already accepted but holds a different policy (hash " + p.policyHashHex() +
                 "); a changed policy needs a new version"};
  }
  // Unsynchronised, the clock cannot tell whether the bundle expired; it loads, and
  // the decision engine then treats every basis and consent as expired (RULES.md).
  if (requirements.clockSynchronised && p.validUntil() <= requirements.now) {
    return Error{"bundle " + p.name() + " v" + std::to_string(p.version()) + " expired at " + formatUtc(p.validUntil())};
  }
  return policy;
}

Result<std::vector<std::uint8_t>> readBinaryFile(const std::filesystem::path& file) {
  auto text = readTextFile(file);
  if (!text) return text.error();
  return std::vector<std::uint8_t>(text->begin(), text->end());
}

Status writeFileAtomically(const std::filesystem::path& file, std::span<const std::uint8_t> bytes) {
  const auto temporary = std::filesystem::path(file.string() + ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return Error{temporary.string() + ": cannot create: " + std::strerror(errno)};
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Error{temporary.string() + ": write failed: " + std::strerror(errno)};
  }
  std::error_code ec;
  std::filesystem::rename(temporary, file, ec);
  if (ec) return Error{file.string() + ": cannot replace: " + ec.message()};
  return Status::success();
}

}  // namespace cordon::policy
