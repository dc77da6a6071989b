#pragma once
// What the start-up checks need from PEM files, through OpenSSL: that CA and client
// certificates parse, that a client key belongs to its certificate, and the names a
// client certificate carries (RULES.md: "a per-device certificate ... on an overseas
// connection is an identifier too").
#include <filesystem>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::config {

// The names in a certificate that a broker, a log or an operator can see.
struct CertificateNames {
  std::vector<std::string> subject;   // every CN, O and OU of the subject
  std::vector<std::string> altNames;  // every DNS, URI and e-mail entry of subjectAltName
};

// The first certificate of a PEM file. The error names the file.
Result<CertificateNames> readCertificateNames(const std::filesystem::path& certFile);
// A PEM file with at least one certificate (a CA bundle).
Status checkCertificates(const std::filesystem::path& pemFile);
// The private key in `keyFile` parses (unencrypted PEM) and matches the certificate.
Status checkKeyPair(const std::filesystem::path& certFile, const std::filesystem::path& keyFile);

}  // namespace cordon::config
