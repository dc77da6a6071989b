#include "gateway/config/certificate_file.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace cordon::config {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;

// OpenSSL's reason for the last failure, and an empty error queue afterwards.
std::string opensslReason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

Result<Cert> readFirstCertificate(const std::filesystem::path& file) {
  Bio bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return Error{"'" + file.string() + "': cannot open: " + opensslReason()};
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Error{"'" + file.string() + "': not a PEM certificate (" + opensslReason() + ")"};
  return cert;
}

std::string text(const ASN1_STRING* value) {
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, value);
  if (length < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

Result<CertificateNames> readCertificateNames(const std::filesystem::path& certFile) {
  auto cert = readFirstCertificate(certFile);
  if (!cert) return cert.error();
  CertificateNames names;
  const X509_NAME* subject = X509_get_subject_name(cert.value().get());
  for (const int nid : {NID_commonName, NID_organizationName, NID_organizationalUnitName}) {
    for (int i = X509_NAME_get_index_by_NID(subject, nid, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subject, nid, i)) {
      names.subject.push_back(text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
    }
  }
  std::unique_ptr<GENERAL_NAMES, NamesFree> alt(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.value().get(), NID_subject_alt_name, nullptr, nullptr)));
  if (alt) {
    for (int i = 0; i < sk_GENERAL_NAME_num(alt.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt.get(), i);
      switch (name->type) {
        case GEN_DNS:
        case GEN_URI:
        case GEN_EMAIL: names.altNames.push_back(text(name->d.ia5)); break;
        default: break;  // IP addresses and directory names carry no vehicle id we could match
      }
    }
  }
  ERR_clear_error();
  return names;
}

Status checkCertificates(const std::filesystem::path& pemFile) {
  auto cert = readFirstCertificate(pemFile);
  if (!cert) return cert.error();
  return Status::success();
}

Status checkKeyPair(const std::filesystem::path& certFile, const std::filesystem::path& keyFile) {
  auto cert = readFirstCertificate(certFile);
  if (!cert) return cert.error();
  Bio bio(BIO_new_file(keyFile.c_str(), "r"));
  if (!bio) return Error{"'" + keyFile.string() + "': cannot open: " + opensslReason()};
  // No passphrase callback: an encrypted key fails here instead of prompting.
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  if (!key) return Error{"'" + keyFile.string() + "': not an unencrypted PEM private key (" + opensslReason() + ")"};
  if (X509_check_private_key(cert.value().get(), key.get()) != 1) {
    ERR_clear_error();
    return Error{"'" + keyFile.string() + "' is not the private key of '" + certFile.string() + "'"};
  }
  return Status::success();
}

}  // namespace cordon::config
