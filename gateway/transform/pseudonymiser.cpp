#include "gateway/transform/pseudonymiser.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>

namespace cordon::transform {

void Pseudonymiser::CtxFree::operator()(evp_mac_ctx_st* ctx) const {
  EVP_MAC_CTX_free(ctx);
}

Result<Pseudonymiser> Pseudonymiser::create(const KeyRing& ring, std::uint32_t epoch) {
  const auto key = ring.key(epoch);
  if (key.empty()) return Error{"pseudonymiser: no key for epoch " + std::to_string(epoch)};

  EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  if (mac == nullptr) return Error{"pseudonymiser: OpenSSL has no HMAC"};
  std::unique_ptr<evp_mac_ctx_st, CtxFree> ctx(EVP_MAC_CTX_new(mac));
  EVP_MAC_free(mac);  // the context holds its own reference
  if (!ctx) return Error{"pseudonymiser: cannot create an HMAC context"};

  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) {
    return Error{"pseudonymiser: cannot key HMAC-SHA256"};
  }
  return Pseudonymiser(epoch, std::move(ctx));
}

Result<std::string> Pseudonymiser::pseudonymise(std::string_view domain, std::string_view value) const {
  // A copy of the keyed state per call: the template stays untouched, so concurrent callers
  // only ever read it.
  std::unique_ptr<evp_mac_ctx_st, CtxFree> ctx(EVP_MAC_CTX_dup(keyed_.get()));
  if (!ctx) return Error{"pseudonymiser: cannot copy the HMAC context"};

  const auto domainSize = static_cast<std::uint32_t>(domain.size());
  const std::array<unsigned char, 4> prefix = {
      static_cast<unsigned char>(domainSize >> 24), static_cast<unsigned char>(domainSize >> 16),
      static_cast<unsigned char>(domainSize >> 8), static_cast<unsigned char>(domainSize)};
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  std::size_t macSize = 0;
  if (domain.size() > UINT32_MAX || EVP_MAC_update(ctx.get(), prefix.data(), prefix.size()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(domain.data()), domain.size()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(value.data()), value.size()) != 1 ||
      EVP_MAC_final(ctx.get(), mac.data(), &macSize, mac.size()) != 1 || macSize < kPseudonymMacBytes) {
    return Error{"pseudonymiser: HMAC-SHA256 failed"};
  }
  return "p" + std::to_string(epoch_) + ":" + base32Lower(mac.data(), kPseudonymMacBytes);
}

std::string base32Lower(const std::uint8_t* data, std::size_t size) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  out.reserve((size * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kAlphabet[(buffer >> bits) & 31U]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31U]);
  return out;
}

}  // namespace cordon::transform
