#include "tests/support/test_pki.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace cordon::test {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// OpenSSL's reason for the latest failure, after `what`; clears its error queue.
Error openSslError(const std::string& what) {
  std::string text = what;
  const unsigned long code = ERR_get_error();
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += ": ";
    text += buffer;
  }
  ERR_clear_error();
  return Error{text};
}

// "/O=Example Motors/CN=gateway" into the name's entries, in order.
Status parseSubject(std::string_view subject, X509_NAME* name) {
  if (subject.empty() || subject.front() != '/') {
    return Error{"subject \"" + std::string(subject) + "\": expected /FIELD=value/..."};
  }
  std::size_t start = 1;
  while (start < subject.size()) {
    const std::size_t end = std::min(subject.find('/', start), subject.size());
    const std::string_view entry = subject.substr(start, end - start);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Error{"subject \"" + std::string(subject) + "\": entry \"" + std::string(entry) + "\" has no FIELD="};
    }
    const std::string field(entry.substr(0, eq));
    const std::string value(entry.substr(eq + 1));
    if (X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1) {
      return openSslError("subject field " + field);
    }
    start = end + 1;
  }
  return {};
}

Status addExtension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openSslError(std::string(OBJ_nid2sn(nid)) + " \"" + value + "\"");
  }
  return {};
}

Status writeCertificate(const fs::path& file, X509* cert) {
  BioPtr bio(BIO_new_file(file.c_str(), "w"));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return openSslError("writing " + file.string());
  return {};
}

// Created with mode 0600 from the start: the key is never readable by others, not even
// for a moment.
Status writeKey(const fs::path& file, EVP_PKEY* key) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) {
    if (fd >= 0) ::close(fd);
    return Error{"cannot create " + file.string()};
  }
  BioPtr bio(BIO_new_fd(fd, BIO_CLOSE));
  if (!bio) {
    ::close(fd);
    return openSslError("writing " + file.string());
  }
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openSslError("writing " + file.string());
  }
  return {};
}

Result<CertPtr> readCertificate(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  CertPtr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return openSslError("reading " + file.string());
  return cert;
}

Result<KeyPtr> readKey(const fs::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return openSslError("reading " + file.string());
  return key;
}

// The issuer: its certificate and key; both null for a self-signed certificate.
struct Issuer {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
};

Result<CertificateFiles> make(const fs::path& dir, std::string_view name, const CertificateSpec& spec, Issuer issuer) {
  const CertificateFiles files{dir / (std::string(name) + ".pem"), dir / (std::string(name) + ".key")};
  std::error_code ec;
  fs::create_directories(files.certFile.parent_path(), ec);
  if (ec) return Error{"cannot create " + files.certFile.parent_path().string() + ": " + ec.message()};

  KeyPtr key(EVP_EC_gen("P-256"));
  CertPtr cert(X509_new());
  if (!key || !cert) return openSslError("key for " + std::string(name));
  // Random 64-bit serials: a TLS peer that caches by issuer and serial never mixes two
  // test certificates up.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return openSslError("serial for " + std::string(name));
  }
  constexpr long kHour = 3600;
  if (X509_set_version(cert.get(), 2) != 1 ||  // v3
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kHour) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), long{spec.days} * 24 * kHour) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return openSslError("certificate " + std::string(name));
  }
  if (auto s = parseSubject(spec.subject, X509_get_subject_name(cert.get())); !s) return Error{s.message()};
  const bool selfSigned = issuer.cert == nullptr;
  X509* const signer = selfSigned ? cert.get() : issuer.cert;
  EVP_PKEY* const signingKey = selfSigned ? key.get() : issuer.key;
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1) {
    return openSslError("issuer of " + std::string(name));
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  struct Extension {
    int nid;
    std::string value;
  };
  std::vector<Extension> extensions;
  switch (spec.use) {
    case CertificateUse::Ca:
      extensions = {{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "critical,keyCertSign,cRLSign"}};
      break;
    case CertificateUse::Server:
      extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                    {NID_key_usage, "critical,digitalSignature"},
                    {NID_ext_key_usage, "serverAuth"}};
      break;
    case CertificateUse::Client:
      extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                    {NID_key_usage, "critical,digitalSignature"},
                    {NID_ext_key_usage, "clientAuth"}};
      break;
  }
  extensions.push_back({NID_subject_key_identifier, "hash"});
  if (!selfSigned) extensions.push_back({NID_authority_key_identifier, "keyid:always"});
  if (!spec.altNames.empty()) extensions.push_back({NID_subject_alt_name, spec.altNames});
  for (const auto& e : extensions) {
    if (auto s = addExtension(cert.get(), ctx, e.nid, e.value); !s) {
      return Error{"certificate " + std::string(name) + ": " + s.message()};
    }
  }

  if (X509_sign(cert.get(), signingKey, EVP_sha256()) == 0) return openSslError("signing " + std::string(name));
  if (auto s = writeKey(files.keyFile, key.get()); !s) return Error{s.message()};
  if (auto s = writeCertificate(files.certFile, cert.get()); !s) return Error{s.message()};
  return files;
}

}  // namespace

Result<CertificateFiles> makeSelfSigned(const fs::path& dir, std::string_view name, const CertificateSpec& spec) {
  return make(dir, name, spec, {});
}

Result<TestPki> TestPki::create(const fs::path& dir, std::string_view name, std::string_view subject) {
  auto ca = makeSelfSigned(dir, name, {.subject = std::string(subject), .altNames = {}, .use = CertificateUse::Ca});
  if (!ca) return ca.error();
  return TestPki(dir, std::move(ca).value());
}

Result<CertificateFiles> TestPki::issue(std::string_view name, const CertificateSpec& spec) const {
  auto cert = readCertificate(ca_.certFile);
  if (!cert) return cert.error();
  auto key = readKey(ca_.keyFile);
  if (!key) return key.error();
  return make(dir_, name, spec, {cert.value().get(), key.value().get()});
}

Result<CertificateFiles> TestPki::issueServer(std::string_view name) const {
  return issue(name, {.subject = "/O=Cordon tests/CN=localhost",
                      .altNames = "IP:127.0.0.1,DNS:localhost",
                      .use = CertificateUse::Server});
}

Result<CertificateFiles> TestPki::issueClient(std::string_view name, std::string_view subject) const {
  return issue(name, {.subject = std::string(subject), .altNames = {}, .use = CertificateUse::Client});
}

}  // namespace cordon::test
