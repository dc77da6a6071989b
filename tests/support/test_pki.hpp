#pragma once
// Certificates for TLS tests, made in-process with OpenSSL's C API (no `openssl`
// program, no system openssl.cnf): a CA, server certificates for a broker on loopback,
// client certificates for mutual TLS, and self-signed certificates.
//
// Keys are EC P-256, written as unencrypted PEM with mode 0600 (the gateway refuses
// key files other users can read). Certificates are valid from an hour ago for `days`.
// Files go into a directory of the caller's (a ScratchDir's path, usually) as
// NAME.pem and NAME.key; NAME may contain '/' (a subdirectory, created).
//
// Errors: values, with OpenSSL's own reason; nothing throws.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "ecu/common/result.hpp"

namespace cordon::test {

struct CertificateFiles {
  std::filesystem::path certFile;  // PEM certificate
  std::filesystem::path keyFile;   // PEM private key, unencrypted, mode 0600
};

enum class CertificateUse : std::uint8_t {
  Ca,      // basicConstraints CA:TRUE, keyUsage keyCertSign + cRLSign
  Server,  // CA:FALSE, extendedKeyUsage serverAuth
  Client,  // CA:FALSE, extendedKeyUsage clientAuth
};

struct CertificateSpec {
  std::string subject;   // as `openssl req -subj`: "/O=Example Motors/CN=gateway"
  std::string altNames;  // as openssl's subjectAltName: "IP:127.0.0.1,DNS:localhost"; empty: none
  CertificateUse use = CertificateUse::Client;
  int days = 30;
};

// A self-signed certificate DIR/NAME.pem and its key DIR/NAME.key.
Result<CertificateFiles> makeSelfSigned(const std::filesystem::path& dir, std::string_view name,
                                        const CertificateSpec& spec);

// A certificate authority and the certificates it signs.
class TestPki {
 public:
  // Makes the CA's certificate DIR/NAME.pem and key DIR/NAME.key.
  static Result<TestPki> create(const std::filesystem::path& dir, std::string_view name = "ca",
                                std::string_view subject = "/O=Cordon tests/CN=Cordon Test CA");

  // The CA's certificate: what a TLS peer's ca_file names to trust this PKI.
  const std::filesystem::path& caFile() const { return ca_.certFile; }
  const CertificateFiles& ca() const { return ca_; }

  // DIR/NAME.pem and DIR/NAME.key, signed by this CA.
  Result<CertificateFiles> issue(std::string_view name, const CertificateSpec& spec) const;
  // For a broker on loopback: CN=localhost, subjectAltName IP:127.0.0.1 and DNS:localhost.
  Result<CertificateFiles> issueServer(std::string_view name = "server") const;
  // For a client presenting `subject` (mutual TLS).
  Result<CertificateFiles> issueClient(std::string_view name, std::string_view subject) const;

 private:
  TestPki(std::filesystem::path dir, CertificateFiles ca) : dir_(std::move(dir)), ca_(std::move(ca)) {}
  std::filesystem::path dir_;
  CertificateFiles ca_;
};

}  // namespace cordon::test
