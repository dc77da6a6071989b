#pragma once
// Real files for config tests: a scratch directory with a self-signed CA, client
// certificates made by `openssl req` with chosen subjects and SANs, device keys with
// mode 0600, placeholder policy files, and a config that names them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "tests/support/scratch_dir.hpp"

namespace cordon::config::test {

inline const std::filesystem::path kExamples = std::filesystem::path(CORDON_SOURCE_DIR) / "examples/config";
inline constexpr std::string_view kVin = "LSVAX4E69PN000001";

// The 1-based line of the first occurrence of `needle` in `text` (0 when absent), so
// that tests state the line an error must name by content, not by counting.
inline int lineOf(std::string_view text, std::string_view needle) {
  const auto pos = text.find(needle);
  if (pos == std::string_view::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto pos = text.find(from);
  if (pos == std::string::npos) {
    ADD_FAILURE() << "'" << from << "' is not in the config";
    return text;
  }
  return text.replace(pos, from.size(), to);
}

class ConfigFiles {
 public:
  ConfigFiles() {
    secret("keys/pseudonym.key");
    secret("keys/digest.key");
    secret("keys/audit-signing.pem");
    dir_.write("policy/bundle.cpb", "bundle");
    dir_.write("policy/signing.pub.pem", "public key");
    std::filesystem::create_directories(dir_ / "state");
    certificate("certs/ca", "/CN=Cordon Test CA", "");
    certificate("certs/client", "/O=Example Motors/CN=gateway-test", "DNS:gateway.example.com");
  }

  const cordon::test::ScratchDir& dir() const { return dir_; }
  std::filesystem::path operator/(std::string_view name) const { return dir_ / name; }

  // A key file with mode 0600.
  std::filesystem::path secret(std::string_view name) const {
    const auto file = dir_.write(name, "0123456789abcdef0123456789abcdef");
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return file;
  }

  // A self-signed EC certificate NAME.pem and its key NAME.key (mode 0600), made by the
  // openssl command line. `san` as openssl's subjectAltName syntax, or empty.
  void certificate(std::string_view name, std::string_view subject, std::string_view san) const {
    const auto base = dir_ / name;
    std::filesystem::create_directories(base.parent_path());
    std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout '" +
                          base.string() + ".key' -out '" + base.string() + ".pem' -subj '" + std::string(subject) + "'";
    if (!san.empty()) command += " -addext 'subjectAltName=" + std::string(san) + "'";
    command += " >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::filesystem::permissions(base.string() + ".key",
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }

  // Writes `text` as NAME in the directory and returns its path.
  std::filesystem::path write(std::string_view name, std::string_view text) const { return dir_.write(name, text); }

 private:
  cordon::test::ScratchDir dir_{"cordon-config"};
};

// A valid vehicle config over the files of ConfigFiles: endpoints[0] domestic with
// mutual TLS, endpoints[1] overseas (DE) with server-only TLS. Tests edit it by
// replacing unique fragments.
inline constexpr std::string_view kValidConfig = R"({
  // a comment, as FlatBuffers' JSON allows
  "deployment": "vehicle",
  "vehicle_id": "LSVAX4E69PN000001",
  "endpoints": [
    {
      "name": "cn-cloud",
      "uri": "ssl://mqtt.example.cn:8883",
      "jurisdiction": "CN",
      "client_id": "LSVAX4E69PN000001",
      "tls": {
        "ca_file": "certs/ca.pem",
        "cert_file": "certs/client.pem",
        "key_file": "certs/client.key"
      }
    },
    {
      "name": "eu-cloud",
      "uri": "ssl://mqtt.example.de:8883",
      "jurisdiction": "DE",
      "client_id": "cordon-eu",
      "topic_prefix": "fleet/v1",
      "qos": 0,
      "tls": {
        "ca_file": "certs/ca.pem"
      },
      "in_flight": 16,
      "reconnect": { "min_ms": 250, "max_ms": 8000, "jitter": 0.5 },
      "encoding": "json"
    },
  ],
  "outbox": { "path": "state/cordon.db" },
  "policy": { "bundle": "policy/bundle.cpb", "trusted_key": "policy/signing.pub.pem" },
  "keys": {
    "pseudonym_key": "keys/pseudonym.key",
    "audit_signing_key": "keys/audit-signing.pem",
    "digest_key": "keys/digest.key"
  }
}
)";

}  // namespace cordon::config::test
