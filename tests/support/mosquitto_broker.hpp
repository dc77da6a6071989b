#pragma once
// A real Mosquitto broker for end-to-end tests, on a loopback port of its own.
//
// start() writes a config into a fresh temporary directory (listener on 127.0.0.1,
// anonymous access, no persistence unless asked, log to a file there), or takes the
// lines of a config file of your own (MosquittoOptions::configFile), runs
// `mosquitto -c` and returns once the broker accepts connections. A free port is
// found by binding port 0 and releasing it; if Mosquitto loses the race for it, start
// tries another. With a fixed port (a restart on the port of a stopped broker) it
// retries that port until the start timeout. Errors carry the tail of Mosquitto's log.
//
// The binary: CORDON_MOSQUITTO (set by the build), else `mosquitto` on PATH, else
// /usr/sbin/mosquitto.
//
// Ownership: the object owns the process and the directory. The destructor stops the
// broker (SIGTERM, SIGKILL after a grace period) and removes the directory.
// The broker also gets SIGTERM if the test process dies first (PR_SET_PDEATHSIG),
// which Linux ties to the thread that started it: start brokers from a thread that
// lives as long as they do (the test's main thread).
// Threads: use from one thread.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ecu/common/result.hpp"

namespace cordon::test {

// TLS on the broker's listener (PEM files, e.g. from TestPki).
struct MosquittoTls {
  std::filesystem::path caFile;     // CAs that client certificates must chain to
  std::filesystem::path certFile;   // the broker's certificate
  std::filesystem::path keyFile;    // and its key
  bool requireCertificate = false;  // mutual TLS: refuse clients without a certificate from caFile
  std::string tlsVersion;           // e.g. "tlsv1.2" to allow only that; empty: Mosquitto's default
};

struct MosquittoOptions {
  std::uint16_t port = 0;  // 0: any free loopback port
  // A config of your own instead of the generated one (e.g. a shipped config, its paths
  // rewritten to scratch copies). It must have exactly one `listener PORT [ADDRESS]` line
  // and no TLS on it (uri() is tcp://): its PORT becomes the chosen port. The broker's
  // own log lines are appended (for start() to see Mosquitto come up), then `user root`
  // when run as root, then extraConfig. `persistence` and `tls` do not apply.
  std::filesystem::path configFile{};
  bool persistence = false;
  std::chrono::milliseconds startTimeout{10'000};
  std::optional<MosquittoTls> tls{};       // the listener speaks TLS only (uri() is ssl://)
  std::vector<std::string> extraConfig{};  // lines appended to mosquitto.conf
};

class MosquittoBroker {
 public:
  static Result<std::unique_ptr<MosquittoBroker>> start(MosquittoOptions options = {});
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // SIGTERM, then SIGKILL if it has not exited after `grace`. Idempotent. The
  // directory (and its log) stays until destruction.
  Status stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  bool running() const { return pid_ > 0; }
  // SIGSTOP / SIGCONT: the broker keeps its sockets but answers nothing, so clients
  // see publishes go unacknowledged without a lost connection (until keepalive).
  Status pause();
  Status resume();
  // SIGKILL: the broker dies without reading or answering anything more.
  Status kill();

  std::uint16_t port() const { return port_; }
  // ssl://127.0.0.1:PORT with TLS (the name a TestPki server certificate carries), else tcp://.
  std::string uri() const { return (options_.tls ? "ssl://127.0.0.1:" : "tcp://127.0.0.1:") + std::to_string(port_); }
  const std::filesystem::path& directory() const { return dir_; }
  std::string logTail(std::size_t maxLines = 30) const;

 private:
  MosquittoBroker(std::filesystem::path dir, MosquittoOptions options);
  // One launch on `port`: ok once it accepts connections; else the reason, and
  // whether another port may help.
  Status launch(std::uint16_t port, std::chrono::steady_clock::time_point deadline, bool& portTaken);
  Status reap(std::chrono::milliseconds grace);

  std::filesystem::path dir_;
  MosquittoOptions options_;
  std::string binary_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

}  // namespace cordon::test
