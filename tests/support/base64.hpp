#pragma once
// Base64 (RFC 4648 section 4, padded) through OpenSSL, for test data: the leak checker's
// needles and the payloads its tests plant. Link OpenSSL::Crypto.
#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace cordon::test {

inline std::string toBase64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace cordon::test
